#include "ingest/group_commit_writer.h"

#include "common/database.h"
#include "common/log.h"

namespace connector {

GroupCommitWriter::GroupCommitWriter(const QueueConfig& config)
    : db_(OpenQueue(config)),
      inserter_(std::make_unique<EventInserter>(*db_)),
      schema_version_(SchemaVersion(*db_)) {
  thread_ = std::thread([this] { Run(); });
}

GroupCommitWriter::~GroupCommitWriter() { Stop(); }

CommitOutcome GroupCommitWriter::Commit(std::vector<QueuedEvent> events) {
  auto request = std::make_shared<Request>();
  request->events = std::move(events);

  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) {
    return CommitOutcome{false, 0, "intercom-ingest is shutting down; retry the request"};
  }
  waiting_.push_back(request);
  work_ready_.notify_one();
  work_done_.wait(lock, [&] { return request->done; });
  return request->outcome;
}

void GroupCommitWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void GroupCommitWriter::Run() {
  while (true) {
    std::vector<std::shared_ptr<Request>> group;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, and nothing left to write
      group.assign(waiting_.begin(), waiting_.end());
      waiting_.clear();
    }

    WriteGroup(group);

    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& request : group) request->done = true;
    }
    work_done_.notify_all();
  }
}

void GroupCommitWriter::WriteGroup(const std::vector<std::shared_ptr<Request>>& group) {
  size_t event_count = 0;
  try {
    inserter_->Begin();
    for (const auto& request : group) {
      for (const QueuedEvent& event : request->events) {
        if (inserter_->Insert(event)) ++request->outcome.added;
      }
      event_count += request->events.size();
    }
    inserter_->Commit();
  } catch (const InsertError& error) {
    inserter_->Rollback();
    log::Error("commit_failed", {{"requests", group.size()},
                                 {"error", error.what()},
                                 {"sqlite_code", error.extended_code()}});
    for (const auto& request : group) {
      request->outcome = CommitOutcome{false, 0, error.what()};
    }
    return;
  } catch (const std::exception& error) {
    // Such as std::bad_alloc: fail the group rather than the whole process.
    inserter_->Rollback();
    log::Error("commit_failed", {{"requests", group.size()}, {"error", error.what()}});
    for (const auto& request : group) {
      request->outcome = CommitOutcome{false, 0, error.what()};
    }
    return;
  }

  transactions_.fetch_add(1);
  requests_.fetch_add(group.size());
  for (const auto& request : group) request->outcome.committed = true;
  log::Debug("committed", {{"requests", group.size()}, {"events", event_count}});
}

}  // namespace connector
