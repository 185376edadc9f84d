#include "data/tree.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "core/hash.h"
#include "core/parallel.h"
#include "core/paths.h"

namespace keel {
namespace {

// Coarser than any kernel's timestamp tick.
constexpr int64_t kRacyWindowNs = 100'000'000;

// Folders waiting to be listed, shared by the walking threads. Done when
// the queue is empty and no thread is listing (a listing may add folders).
class FolderQueue {
 public:
  void Push(std::string rel) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(rel));
    cv_.notify_one();
  }
  // The next folder, or nullopt once all work is done or Stop() was called.
  // Each folder popped must be followed by Done() once listed.
  std::optional<std::string> Pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopped_ || !queue_.empty() || busy_ == 0; });
    if (stopped_ || queue_.empty()) {
      cv_.notify_all();
      return std::nullopt;
    }
    ++busy_;
    std::string rel = std::move(queue_.front());
    queue_.pop_front();
    return rel;
  }
  void Done() {
    std::lock_guard lock(mu_);
    --busy_;
    if (busy_ == 0 && queue_.empty()) cv_.notify_all();
  }
  bool HasQueued() {
    std::lock_guard lock(mu_);
    return !queue_.empty();
  }
  void Stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  int busy_ = 0;
  bool stopped_ = false;
};

}  // namespace

bool TreeScanner::Cacheable(const FileInfo& info, int64_t hash_start_ns) const {
  return info.mtime_ns < hash_start_ns - kRacyWindowNs;
}

Result<Digest> TreeScanner::HashFile(const std::string& abs, const std::string& key,
                                     const FileInfo& info) {
  if (std::optional<Digest> cached = cache_->Lookup(key, info)) return *cached;
  int64_t start = env_->NowNanos();
  progress_->Begin("hashing " + key, info.size);
  KEEL_ASSIGN_OR_RETURN(HashedFile hashed,
                        keel::HashFile(env_, abs, [this](uint64_t n) { progress_->Advance(n); }));
  progress_->End();
  if (hashed.size != info.size) {
    return FailedPreconditionError(abs + ": changed while it was being hashed");
  }
  if (Cacheable(info, start)) cache_->Record(key, info, hashed.digest);
  return hashed.digest;
}

Result<std::vector<ScannedEntry>> TreeScanner::List(const std::string& abs) {
  FolderQueue queue;
  queue.Push("");
  std::mutex mu;
  Status first_error;
  std::vector<std::vector<ScannedEntry>> found(WorkerThreads());
  auto list_one = [&](const std::string& rel, std::vector<ScannedEntry>* out) -> Status {
    std::string dir = JoinPath(abs, rel);
    KEEL_ASSIGN_OR_RETURN(std::vector<DirEntry> children, env_->ListDir(dir));
    if (children.empty() && !rel.empty()) {
      ScannedEntry& e = out->emplace_back();
      e.abs = dir;
      e.info.type = FileType::kDirectory;
      e.entry.path = rel;
      e.entry.mode = EntryMode::kEmptyDir;
      e.hashed = true;
      return Status::Ok();
    }
    for (DirEntry& child : children) {
      if (child.info.type != FileType::kDirectory && IsTempName(child.name)) {
        std::lock_guard lock(mu);
        leftovers_.push_back(JoinPath(dir, child.name));
        continue;
      }
      std::string child_rel = JoinPath(rel, child.name);
      if (child.info.type == FileType::kDirectory) {
        queue.Push(std::move(child_rel));
        continue;
      }
      if (child.info.type == FileType::kOther) {
        return InvalidArgumentError(JoinPath(dir, child.name) +
                                    ": not a regular file, folder or symbolic link; keel cannot store it");
      }
      ScannedEntry& e = out->emplace_back();
      e.abs = JoinPath(dir, child.name);
      e.info = child.info;
      e.entry.path = std::move(child_rel);
      e.entry.size = child.info.size;
      if (child.info.type == FileType::kSymlink) {
        e.entry.mode = EntryMode::kSymlink;
        KEEL_ASSIGN_OR_RETURN(e.link_target, env_->ReadSymlink(e.abs));
        e.entry.size = e.link_target.size();
        e.entry.digest = HashBytes(e.link_target);
        e.hashed = true;
      } else {
        e.entry.mode = (child.info.mode & 0100) ? EntryMode::kExecutable : EntryMode::kFile;
      }
    }
    return Status::Ok();
  };
  auto worker = [&](std::vector<ScannedEntry>* out) {
    while (std::optional<std::string> rel = queue.Pop()) {
      Status s = list_one(*rel, out);
      queue.Done();
      if (s.ok()) continue;
      std::lock_guard lock(mu);
      if (first_error.ok()) first_error = s;
      queue.Stop();
    }
  };
  // The top folder first, on this thread: a flat folder (most deps and
  // outs) then needs no threads at all.
  std::optional<std::string> top = queue.Pop();
  Status listed = list_one(*top, &found[0]);
  queue.Done();
  KEEL_RETURN_IF_ERROR(listed);
  std::vector<std::thread> pool;
  if (queue.HasQueued()) {
    for (size_t t = 1; t < found.size(); ++t) pool.emplace_back(worker, &found[t]);
  }
  worker(&found[0]);
  for (std::thread& t : pool) t.join();
  KEEL_RETURN_IF_ERROR(first_error);
  // Sort by path: an index sort, so that each (large) entry moves once.
  std::vector<ScannedEntry*> order;
  for (auto& part : found) {
    for (ScannedEntry& e : part) order.push_back(&e);
  }
  std::sort(order.begin(), order.end(),
            [](const ScannedEntry* a, const ScannedEntry* b) { return a->entry.path < b->entry.path; });
  std::vector<ScannedEntry> sorted;
  sorted.reserve(order.size());
  for (ScannedEntry* e : order) sorted.push_back(std::move(*e));
  return sorted;
}

Status TreeScanner::FillFromCache(const std::string& key, std::vector<ScannedEntry>* entries) {
  auto next = entries->begin();
  return cache_->ForEachUnder(key, [&](std::string_view rel, const CachedState& state) {
    while (next != entries->end() && std::string_view(next->entry.path) < rel) ++next;
    if (next == entries->end() || next->entry.path != rel || next->hashed) return;
    if (next->info.type == FileType::kRegular && state.Matches(next->info)) {
      next->entry.digest = state.digest;
      next->hashed = true;
    }
  });
}

Result<std::vector<ScannedEntry>> TreeScanner::Walk(const std::string& abs, const std::string& key) {
  KEEL_ASSIGN_OR_RETURN(std::vector<ScannedEntry> entries, List(abs));
  KEEL_RETURN_IF_ERROR(FillFromCache(key, &entries));
  return entries;
}

Status TreeScanner::HashMissing(const std::string& key, std::vector<ScannedEntry>* entries,
                                uint64_t sink_max_size, const ContentSink& sink) {
  std::vector<ScannedEntry*> todo;
  uint64_t todo_bytes = 0;
  for (ScannedEntry& e : *entries) {
    if (e.hashed) continue;
    todo.push_back(&e);
    todo_bytes += e.info.size;
  }
  if (todo.empty()) return Status::Ok();
  progress_->Begin("hashing " + key, todo_bytes);
  int64_t start = env_->NowNanos();
  Status status = ParallelFor(todo.size(), WorkerThreads(), [&](size_t i) -> Status {
    ScannedEntry& e = *todo[i];
    if (sink && e.info.size <= sink_max_size) {
      KEEL_ASSIGN_OR_RETURN(std::string data, ReadFileToString(env_, e.abs));
      if (data.size() != e.info.size) {
        return FailedPreconditionError(e.abs + ": changed while it was being hashed");
      }
      e.entry.digest = HashBytes(data);
      e.hashed = true;
      progress_->Advance(data.size());
      return sink(e, data);
    }
    KEEL_ASSIGN_OR_RETURN(HashedFile hashed, keel::HashFile(env_, e.abs));
    if (hashed.size != e.info.size) {
      return FailedPreconditionError(e.abs + ": changed while it was being hashed");
    }
    e.entry.digest = hashed.digest;
    e.hashed = true;
    progress_->Advance(hashed.size);
    return Status::Ok();
  });
  progress_->End();
  KEEL_RETURN_IF_ERROR(status);
  for (const ScannedEntry* e : todo) {
    if (Cacheable(e->info, start)) cache_->Record(JoinPath(key, e->entry.path), e->info, e->entry.digest);
  }
  return Status::Ok();
}

Result<ScannedTree> TreeScanner::ScanFolder(const std::string& abs, const std::string& key) {
  KEEL_ASSIGN_OR_RETURN(std::vector<ScannedEntry> entries, Walk(abs, key));
  KEEL_RETURN_IF_ERROR(HashMissing(key, &entries));
  return Finish(std::move(entries));
}

ScannedTree TreeScanner::Finish(std::vector<ScannedEntry> entries) {
  std::vector<ManifestEntry> manifest_entries;
  manifest_entries.reserve(entries.size());
  for (const ScannedEntry& e : entries) manifest_entries.push_back(e.entry);
  ScannedTree tree;
  tree.manifest = Manifest(std::move(manifest_entries));
  tree.entries = std::move(entries);
  return tree;
}

}  // namespace keel
