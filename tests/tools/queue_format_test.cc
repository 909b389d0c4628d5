// Unit tests of intercom-queue's argument parsing, time parsing and table
// formatting, called as library functions.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

#include "tools/queue/command.h"
#include "tools/queue/output.h"
#include "tools/queue/progress.h"
#include "tools/queue/selection.h"

namespace connector::queue_tool {
namespace {

using ::testing::HasSubstr;

const CommandSpec& Spec(const std::string& name) {
  for (const CommandSpec& spec : Commands()) {
    if (spec.name == name) return spec;
  }
  throw std::logic_error("no command " + name);
}

constexpr int64_t kNow = 1767225600000;  // 2026-01-01T00:00:00Z

TEST(QueueArgsTest, ValuesInBothForms) {
  ParsedArgs args = ParseArgs(Spec("list"), {"--state", "failed", "--event=$identify", "--json"});
  EXPECT_EQ(args.Value("--state"), "failed");
  EXPECT_EQ(args.Value("--event"), "$identify");
  EXPECT_TRUE(args.Has("--json"));
  EXPECT_FALSE(args.Has("--limit"));
}

TEST(QueueArgsTest, UnknownOptionNamed) {
  try {
    ParseArgs(Spec("list"), {"--colour"});
    FAIL() << "expected UsageError";
  } catch (const UsageError& error) {
    EXPECT_THAT(error.what(), HasSubstr("--colour"));
  }
}

TEST(QueueArgsTest, MissingValueNamed) {
  try {
    ParseArgs(Spec("list"), {"--event"});
    FAIL() << "expected UsageError";
  } catch (const UsageError& error) {
    EXPECT_THAT(error.what(), HasSubstr("--event needs a value"));
  }
}

TEST(QueueArgsTest, OptionAsValueRejected) {
  try {
    ParseArgs(Spec("list"), {"--event", "--since", "2h"});
    FAIL() << "expected UsageError";
  } catch (const UsageError& error) {
    EXPECT_THAT(error.what(), HasSubstr("--event needs a value"));
    EXPECT_THAT(error.what(), HasSubstr("--since"));
  }
  EXPECT_EQ(ParseArgs(Spec("list"), {"--event=--odd"}).options.at("--event").front(), "--odd");
}

TEST(QueueArgsTest, SwitchWithValueRejected) {
  EXPECT_THROW(ParseArgs(Spec("list"), {"--json=yes"}), UsageError);
}

TEST(QueueArgsTest, RepeatedSingleOptionRejected) {
  EXPECT_THROW(ParseArgs(Spec("list"), {"--event", "a", "--event", "b"}), UsageError);
}

TEST(QueueArgsTest, DoubleDashEndsOptions) {
  ParsedArgs args = ParseArgs(Spec("show"), {"--", "-not-an-option"});
  ASSERT_EQ(args.positionals.size(), 1u);
  EXPECT_EQ(args.positionals[0], "-not-an-option");
}

TEST(QueueFilterTest, StatesFromListAndRepeats) {
  ParsedArgs args = ParseArgs(Spec("list"), {"--state", "failed,pending", "--state", "skipped"});
  EventFilter filter = ParseFilter(args, kNow, false);
  EXPECT_EQ(filter.states, (std::vector<std::string>{"failed", "pending", "skipped"}));
}

TEST(QueueFilterTest, InvalidStateNamed) {
  ParsedArgs args = ParseArgs(Spec("list"), {"--state", "sent"});
  try {
    ParseFilter(args, kNow, false);
    FAIL() << "expected UsageError";
  } catch (const UsageError& error) {
    EXPECT_THAT(error.what(), HasSubstr("\"sent\""));
  }
}

TEST(QueueFilterTest, IdsAndUuidsFromPositionals) {
  ParsedArgs args = ParseArgs(Spec("retry"), {"12", "0190a1b2-c3d4-7e5f-8a9b-000000000001"});
  EventFilter filter = ParseFilter(args, kNow, true);
  EXPECT_EQ(filter.ids, std::vector<int64_t>{12});
  EXPECT_EQ(filter.uuids, std::vector<std::string>{"0190a1b2-c3d4-7e5f-8a9b-000000000001"});
}

TEST(QueueArgsTest, StrayArgumentRejected) {
  for (const char* command : {"stats", "list", "purge", "check"}) {
    try {
      ParseArgs(Spec(command), {"--json", "extra"});
      ADD_FAILURE() << command << " accepted a stray argument";
    } catch (const UsageError& error) {
      EXPECT_THAT(error.what(), HasSubstr("unexpected argument \"extra\"")) << command;
    }
  }
  EXPECT_THROW(ParseArgs(Spec("stats"), {"--", "extra"}), UsageError);
  EXPECT_EQ(ParseArgs(Spec("show"), {"12"}).positionals, std::vector<std::string>{"12"});
  EXPECT_EQ(ParseArgs(Spec("import"), {"-"}).positionals, std::vector<std::string>{"-"});
  EXPECT_EQ(ParseArgs(Spec("retry"), {"1", "2"}).positionals.size(), 2u);
}

TEST(QueueFilterTest, PositionalRejectedWhereNotTaken) {
  ParsedArgs args;
  args.positionals = {"12"};
  EXPECT_THROW(ParseFilter(args, kNow, false), UsageError);
}

TEST(QueueFilterTest, LimitMustBePositive) {
  for (const char* limit : {"0", "-3", "ten", ""}) {
    ParsedArgs args = ParseArgs(Spec("list"), {"--limit", limit});
    EXPECT_THROW(ParseFilter(args, kNow, false), UsageError) << limit;
  }
}

TEST(QueueFilterTest, SinceAfterUntilRejected) {
  ParsedArgs args = ParseArgs(Spec("list"), {"--since", "1h", "--until", "2h"});
  EXPECT_THROW(ParseFilter(args, kNow, false), UsageError);
}

TEST(QueueTimeTest, AcceptedForms) {
  EXPECT_EQ(ParseTimeArg("--since", "now", kNow), kNow);
  EXPECT_EQ(ParseTimeArg("--since", "30m", kNow), kNow - 30 * 60'000);
  EXPECT_EQ(ParseTimeArg("--since", "2d", kNow), kNow - 2 * 86'400'000);
  EXPECT_EQ(ParseTimeArg("--since", "2026-01-01", kNow), kNow);
  EXPECT_EQ(ParseTimeArg("--since", "2025-12-31T23:00Z", kNow), kNow - 3'600'000);
  EXPECT_EQ(ParseTimeArg("--since", "2025-12-31 23:59:30", kNow), kNow - 30'000);
}

TEST(QueueTimeTest, InvalidFormsNamed) {
  for (const char* text : {"yesterday", "2026-13-01", "2026-01-01T25:00Z", "5 minutes",
                           "2026-01-01X", "1h30m"}) {
    try {
      ParseTimeArg("--until", text, kNow);
      ADD_FAILURE() << "accepted " << text;
    } catch (const UsageError& error) {
      EXPECT_THAT(error.what(), HasSubstr("--until"));
      EXPECT_THAT(error.what(), HasSubstr(text));
    }
  }
}

TEST(QueueConditionTest, EmptyFilterSelectsAll) {
  SqlCondition condition = BuildCondition(EventFilter{}, "received_at_ms");
  EXPECT_EQ(condition.sql, "1");
  EXPECT_TRUE(condition.values.empty());
}

TEST(QueueConditionTest, PlaceholdersMatchValues) {
  EventFilter filter;
  filter.ids = {1, 2};
  filter.uuids = {"u"};
  filter.states = {"failed"};
  filter.event = "e";
  filter.email = "a@b.co";
  filter.distinct_id = "d";
  filter.since_ms = 5;
  filter.until_ms = 9;
  SqlCondition condition = BuildCondition(filter, "updated_at_ms");
  size_t placeholders = std::count(condition.sql.begin(), condition.sql.end(), '?');
  EXPECT_EQ(placeholders, condition.values.size());
  EXPECT_THAT(condition.sql, HasSubstr("updated_at_ms >= ?"));
}

TEST(QueueTableTest, AlignedColumnsLineUp) {
  Table table({"id", "event"});
  table.AddRow({"1", "$identify"});
  table.AddRow({"1234", "x"});
  std::ostringstream out;
  table.Print(out, /*aligned=*/true);
  EXPECT_EQ(out.str(),
            "id    event\n"
            "1     $identify\n"
            "1234  x\n");
}

TEST(QueueTableTest, PipedOutputIsTabSeparated) {
  Table table({"id", "reason"});
  table.AddRow({"7", "bad\tvalue\nhere"});
  std::ostringstream out;
  table.Print(out, /*aligned=*/false);
  EXPECT_EQ(out.str(), "id\treason\n7\tbad\\tvalue\\nhere\n");
}

TEST(QueueTableTest, AlignedCellsEscapedAndCutByCharacter) {
  Table table({"event", "n"});
  table.AddRow({"\x1b[2J", "1"});
  table.AddRow({"\xc3\xa9t\xc3\xa9", "2"});  // "été": 3 characters, 5 bytes
  table.AddRow({std::string(100, 'a') + "\xc3\xa9", "3"});
  table.AddRow({std::string(56, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "4"});
  std::ostringstream out;
  table.Print(out, /*aligned=*/true);
  std::istringstream lines(out.str());
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 5u) << out.str();
  EXPECT_EQ(rows[1], "\\x1b[2J" + std::string(Table::kMaxAlignedWidth - 7 + 2, ' ') + "1");
  EXPECT_EQ(rows[2], "\xc3\xa9t\xc3\xa9" + std::string(Table::kMaxAlignedWidth - 3 + 2, ' ') + "2");
  EXPECT_EQ(rows[3], std::string(Table::kMaxAlignedWidth - 3, 'a') + "...  3");
  // The cut falls after the first "é", never inside its two bytes.
  EXPECT_EQ(rows[4], std::string(56, 'a') + "\xc3\xa9...  4");
}

TEST(QueueEscapeTest, ControlCharactersEscaped) {
  EXPECT_EQ(EscapeText("sig\x1b[2J\x1b]0;pwned\x07"), "sig\\x1b[2J\\x1b]0;pwned\\x07");
  EXPECT_EQ(EscapeText("a\r\nb\tc"), "a\\r\\nb\\tc");
  EXPECT_EQ(EscapeText(std::string("nul\0end", 7)), "nul\\x00end");
  EXPECT_EQ(EscapeText("del\x7f"), "del\\x7f");
  EXPECT_EQ(EscapeText("csi\xc2\x9b" "31m"), "csi\\u009b31m");    // U+009B, a C1 control
  EXPECT_EQ(EscapeText("ab\xe2\x80\xae" "dc"), "ab\\u202edc");  // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(EscapeText("x\xe2\x80\xa8y"), "x\\u2028y");          // LINE SEPARATOR
  EXPECT_EQ(EscapeText("x\xe2\x81\xa6y"), "x\\u2066y");          // LEFT-TO-RIGHT ISOLATE
}

TEST(QueueEscapeTest, InvalidUtf8BytesEscaped) {
  EXPECT_EQ(EscapeText("bad\xff\xfe"), "bad\\xff\\xfe");
  EXPECT_EQ(EscapeText("cut\xc3"), "cut\\xc3");                  // sequence cut short
  EXPECT_EQ(EscapeText("over\xc0\xaf"), "over\\xc0\\xaf");       // overlong "/"
  EXPECT_EQ(EscapeText("sur\xed\xa0\x80"), "sur\\xed\\xa0\\x80");  // UTF-16 surrogate
  EXPECT_EQ(EscapeText("\x9b" "31m"), "\\x9b31m");                // a lone 8-bit CSI byte
}

TEST(QueueEscapeTest, PrintableUtf8Kept) {
  for (const char* text : {"plain $identify", "back\\slash", "\xc3\xa9t\xc3\xa9",
                           "\xe6\x97\xa5\xe6\x9c\xac", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
                           // woman, ZERO WIDTH JOINER, laptop: one emoji
                           "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb"}) {
    EXPECT_EQ(EscapeText(text), text);
  }
}

TEST(QueueEscapeTest, JsonOutputEscapedAndValid) {
  Poco::JSON::Object::Ptr object = NewJsonObject();
  object->set("event",
              std::string("sig\x1b[2J\x07 del\x7f c1\xc2\x9b rlo\xe2\x80\xae bad\xff \xc3\xa9"));
  object->set("key\x1b", "value");
  std::ostringstream out;
  PrintJson(out, object);
  std::string json = out.str();
  for (char byte : json) {
    auto value = static_cast<unsigned char>(byte);
    EXPECT_TRUE(value >= 0x20 || byte == '\n') << "raw control byte " << int(value) << " in "
                                                << json;
    EXPECT_NE(value, 0x7f) << json;
  }
  EXPECT_THAT(json, HasSubstr(R"(sig\u001B[2J\u0007 del\u007F c1\u009B rlo\u202E bad\uFFFD )"
                              "\xc3\xa9\""));
  EXPECT_THAT(json, HasSubstr(R"("key\u001B")"));
  Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(json);
  EXPECT_EQ(parsed.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("event"),
            "sig\x1b[2J\x07 del\x7f c1\xc2\x9b rlo\xe2\x80\xae bad\xef\xbf\xbd \xc3\xa9");
}

TEST(QueueTableTest, LongCellsCutWhenAligned) {
  Table table({"reason"});
  table.AddRow({std::string(200, 'x')});
  std::ostringstream out;
  table.Print(out, /*aligned=*/true);
  EXPECT_THAT(out.str(), HasSubstr(std::string(Table::kMaxAlignedWidth - 3, 'x') + "...\n"));
}

TEST(QueueFormatTest, AgesAndSizes) {
  EXPECT_EQ(FormatAge(850), "850ms");
  EXPECT_EQ(FormatAge(42'000), "42s");
  EXPECT_EQ(FormatAge(312'000), "5m 12s");
  EXPECT_EQ(FormatAge(3 * 3'600'000 + 4 * 60'000), "3h 4m");
  EXPECT_EQ(FormatAge(2 * 86'400'000 + 5 * 3'600'000), "2d 5h");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(20 * 1024 * 1024), "20.0 MiB");
  EXPECT_EQ(FormatCount(0, "event"), "0 events");
  EXPECT_EQ(FormatCount(1, "event"), "1 event");
  EXPECT_EQ(FormatCount(2, "event"), "2 events");
  EXPECT_EQ(FormatTimeMs(kNow), "2026-01-01 00:00:00");
}

TEST(QueueProgressTest, DrawsOnlyWhenEnabled) {
  std::ostringstream off;
  ProgressBar hidden(off, false, "importing", 10);
  hidden.Update(10);
  hidden.Finish();
  EXPECT_EQ(off.str(), "");

  std::ostringstream on;
  ProgressBar shown(on, true, "importing", 4);
  shown.Update(2);
  shown.Update(4);
  shown.Finish();
  EXPECT_THAT(on.str(), HasSubstr("\rimporting ["));
  EXPECT_THAT(on.str(), HasSubstr("100% 4/4"));
  EXPECT_EQ(on.str().back(), '\n');
}

TEST(QueueHelpTest, ReplayHelpExplainsDeduplication) {
  std::string help = CommandHelp(Spec("replay"));
  EXPECT_THAT(help, HasSubstr("de-duplicating"));
  EXPECT_THAT(help, HasSubstr("(contact, event name,\ncreated_at)"));
}

TEST(QueueHelpTest, EveryCommandListed) {
  std::vector<std::string> names;
  for (const CommandSpec& spec : Commands()) names.push_back(spec.name);
  EXPECT_EQ(names, (std::vector<std::string>{"stats", "list", "show", "retry", "skip", "cancel",
                                             "replay", "purge", "import", "check"}));
}

}  // namespace
}  // namespace connector::queue_tool
