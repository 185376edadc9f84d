#include "cas/object_store.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/fault_env.h"

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::vector<CloneMethod> kLinkThenCopy = {CloneMethod::kHardlink, CloneMethod::kCopy};

// Restores the process's umask at scope exit.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

// Distinct contents of varying sizes.
std::vector<std::string> MakeContents(int count, size_t base_size) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string data = "object " + std::to_string(i) + ":";
    data.resize(base_size + static_cast<size_t>(i) * 37, static_cast<char>('a' + i % 26));
    out.push_back(std::move(data));
  }
  return out;
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-cas-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    root_ = dir_ + "/objects";
    store_ = std::make_unique<ObjectStore>(env_, root_, kLinkThenCopy);
    ASSERT_TRUE(store_->Init().ok());
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  // Writes a new file with exactly `mode`; returns its path.
  std::string WriteFile(const std::string& name, std::string_view data, uint32_t mode = 0644) {
    std::string path = dir_ + "/" + name;
    Result<std::unique_ptr<WritableFile>> file = env_->CreateFile(path, mode);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    if (!file.ok()) return path;
    EXPECT_TRUE((*file)->Append(data).ok());
    EXPECT_TRUE((*file)->Close().ok());
    return path;
  }
  FileInfo StatOf(const std::string& path) {
    Result<FileInfo> info = env_->Stat(path);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? *info : FileInfo();
  }
  std::string Read(const std::string& path) {
    Result<std::string> data = ReadFileToString(env_, path);
    EXPECT_TRUE(data.ok()) << data.status().ToString();
    return data.ok() ? *data : std::string();
  }
  std::vector<std::string> TempFiles(const std::string& root) {
    Result<std::vector<DirEntry>> entries = env_->ListDir(root + "/tmp");
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    std::vector<std::string> names;
    if (entries.ok()) {
      for (const DirEntry& e : *entries) names.push_back(e.name);
    }
    return names;
  }
  // Every object ForEach lists in `store`, after checking each verifies.
  std::set<Digest> VerifiedObjects(const ObjectStore& store) {
    std::set<Digest> seen;
    Status s = store.ForEach([&](const Digest& d, const FileInfo& info) {
      EXPECT_TRUE(seen.insert(d).second) << d.ToString() << " listed twice";
      EXPECT_EQ(info.type, FileType::kRegular);
      Status v = store.Verify(d);
      EXPECT_TRUE(v.ok()) << v.ToString();
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return seen;
  }

  Env* env_ = DefaultEnv();
  std::string dir_;
  std::string root_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(ObjectStoreTest, InitCreatesFolders) {
  EXPECT_EQ(StatOf(root_).type, FileType::kDirectory);
  EXPECT_EQ(StatOf(root_ + "/tmp").type, FileType::kDirectory);
  EXPECT_TRUE(store_->Init().ok());  // idempotent
  EXPECT_EQ(store_->root(), root_);
}

TEST_F(ObjectStoreTest, PutBytesThenReadVerified) {
  Result<Digest> d = store_->PutBytes("hello objects");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, HashBytes("hello objects"));
  EXPECT_TRUE(store_->Has(*d));
  EXPECT_FALSE(store_->Has(HashBytes("something else")));
  Result<std::string> data = store_->ReadVerified(*d);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data, "hello objects");
  FileInfo info = StatOf(store_->PathOf(*d));
  EXPECT_EQ(info.mode, 0444u);
  EXPECT_EQ(info.size, 13u);
  EXPECT_THAT(TempFiles(root_), IsEmpty());

  // Putting the same bytes again is fine and changes nothing.
  Result<Digest> again = store_->PutBytes("hello objects");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *d);
  EXPECT_EQ(StatOf(store_->PathOf(*d)).inode, info.inode);

  Result<Digest> empty = store_->PutBytes("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Read(store_->PathOf(*empty)), "");
}

TEST_F(ObjectStoreTest, ReadVerifiedMissingIsNotFound) {
  Digest d = HashBytes("never stored");
  Result<std::string> data = store_->ReadVerified(d);
  EXPECT_EQ(data.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(), HasSubstr(store_->PathOf(d)));
  EXPECT_EQ(store_->Verify(d).code(), StatusCode::kNotFound);
}

TEST_F(ObjectStoreTest, PathOfLayout) {
  Digest d = HashBytes("abc");
  std::string hex = d.Hex();
  std::string path = store_->PathOf(d);
  EXPECT_EQ(path, root_ + "/ba/7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(path, root_ + "/" + hex.substr(0, 2) + "/" + hex.substr(2));
  EXPECT_EQ(path.size() - root_.size(), 1 + 2 + 1 + 62u);
}

TEST_F(ObjectStoreTest, BatchObjectsAppearAtCommit) {
  // More objects than the fsync-per-object limit, so the whole-filesystem
  // sync is used; and a small batch that syncs per object.
  for (int count : {3, 12}) {
    SCOPED_TRACE(count);
    std::vector<std::string> contents = MakeContents(count, 100 + count);
    std::vector<Digest> digests;
    ObjectStore::Batch batch(store_.get());
    for (const std::string& c : contents) {
      digests.push_back(HashBytes(c));
      ASSERT_TRUE(batch.AddBytes(c, digests.back()).ok());
    }
    EXPECT_EQ(batch.staged(), contents.size());
    for (const Digest& d : digests) EXPECT_FALSE(store_->Has(d));
    EXPECT_EQ(TempFiles(root_).size(), contents.size());

    ASSERT_TRUE(batch.Commit().ok());
    EXPECT_EQ(batch.staged(), 0u);
    for (size_t i = 0; i < digests.size(); ++i) {
      EXPECT_TRUE(store_->Has(digests[i]));
      Result<std::string> data = store_->ReadVerified(digests[i]);
      ASSERT_TRUE(data.ok());
      EXPECT_EQ(*data, contents[i]);
      EXPECT_EQ(StatOf(store_->PathOf(digests[i])).mode, 0444u);
    }
    EXPECT_THAT(TempFiles(root_), IsEmpty());
  }
}

TEST_F(ObjectStoreTest, BatchSkipsObjectsAlreadyStored) {
  Result<Digest> d = store_->PutBytes("present");
  ASSERT_TRUE(d.ok());
  std::string path = WriteFile("present.txt", "present");
  ObjectStore::Batch batch(store_.get());
  EXPECT_TRUE(batch.AddBytes("present", *d).ok());
  EXPECT_TRUE(batch.AddFile(path, *d, StatOf(path)).ok());
  EXPECT_EQ(batch.staged(), 0u);
  EXPECT_TRUE(batch.Commit().ok());
  // Not hardlinked: the source keeps its own inode and mode.
  EXPECT_EQ(StatOf(path).mode, 0644u);
  EXPECT_EQ(StatOf(path).links, 1u);
  EXPECT_TRUE(batch.Commit().ok());  // an empty commit is fine
}

TEST_F(ObjectStoreTest, BatchWithTheSameContentTwice) {
  // Two identical files in one folder: both staged, one object.
  std::string a = WriteFile("a.csv", "same");
  std::string b = WriteFile("b.csv", "same");
  Digest d = HashBytes("same");
  ObjectStore::Batch batch(store_.get());
  ASSERT_TRUE(batch.AddFile(a, d, StatOf(a)).ok());
  ASSERT_TRUE(batch.AddFile(b, d, StatOf(b)).ok());
  ASSERT_TRUE(batch.AddBytes("same", d).ok());
  ASSERT_TRUE(batch.Commit().ok());
  EXPECT_EQ(VerifiedObjects(*store_), std::set<Digest>{d});
  EXPECT_THAT(TempFiles(root_), IsEmpty());
  EXPECT_EQ(Read(a), "same");
  EXPECT_EQ(Read(b), "same");
}

TEST_F(ObjectStoreTest, BatchDestroyedWithoutCommitLeavesNothing) {
  std::string plain = WriteFile("plain.csv", "plain file");
  std::string exec = WriteFile("run.sh", "#!/bin/sh\necho hi\n", 0755);
  std::vector<Digest> digests = {HashBytes("bytes"), HashBytes("plain file"),
                                 HashBytes("#!/bin/sh\necho hi\n")};
  {
    ObjectStore::Batch batch(store_.get());
    ASSERT_TRUE(batch.AddBytes("bytes", digests[0]).ok());
    ASSERT_TRUE(batch.AddFile(plain, digests[1], StatOf(plain)).ok());
    ASSERT_TRUE(batch.AddFile(exec, digests[2], StatOf(exec)).ok());
    EXPECT_EQ(batch.staged(), 3u);
    EXPECT_EQ(TempFiles(root_).size(), 3u);
  }
  EXPECT_THAT(TempFiles(root_), IsEmpty());
  for (const Digest& d : digests) EXPECT_FALSE(store_->Has(d));
  EXPECT_THAT(VerifiedObjects(*store_), IsEmpty());
  // The sources are intact.
  EXPECT_EQ(Read(plain), "plain file");
  EXPECT_EQ(Read(exec), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(StatOf(plain).links, 1u);
}

TEST_F(ObjectStoreTest, AddFileHardlinksNonExecutable) {
  std::string path = WriteFile("data.csv", "a,b\n1,2\n", 0644);
  FileInfo before = StatOf(path);
  Digest d = HashBytes("a,b\n1,2\n");
  ObjectStore::Batch batch(store_.get());
  ASSERT_TRUE(batch.AddFile(path, d, before).ok());
  ASSERT_TRUE(batch.Commit().ok());

  FileInfo object = StatOf(store_->PathOf(d));
  FileInfo after = StatOf(path);
  EXPECT_EQ(object.inode, before.inode);
  EXPECT_EQ(after.inode, before.inode);
  EXPECT_EQ(after.links, 2u);
  EXPECT_EQ(object.mode, 0444u);
  EXPECT_EQ(after.mode, 0444u);  // shares the object's read-only inode
  EXPECT_TRUE(store_->Verify(d).ok());
}

TEST_F(ObjectStoreTest, AddFileCopiesExecutable) {
  std::string content = "#!/bin/sh\nexit 0\n";
  std::string path = WriteFile("train.sh", content, 0755);
  FileInfo before = StatOf(path);
  Digest d = HashBytes(content);
  ObjectStore::Batch batch(store_.get());
  ASSERT_TRUE(batch.AddFile(path, d, before).ok());
  ASSERT_TRUE(batch.Commit().ok());

  FileInfo object = StatOf(store_->PathOf(d));
  FileInfo after = StatOf(path);
  EXPECT_NE(object.inode, before.inode);
  EXPECT_EQ(after.links, 1u);
  EXPECT_EQ(after.mode, 0755u);  // keeps its exec bits
  EXPECT_EQ(object.mode, 0444u);
  Result<std::string> data = store_->ReadVerified(d);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, content);
}

TEST_F(ObjectStoreTest, AddFileCopiesWhenCopyIsTheOnlyMethod) {
  ObjectStore copy_store(env_, root_, {CloneMethod::kCopy});
  std::string path = WriteFile("data.csv", "copy me", 0644);
  FileInfo before = StatOf(path);
  Digest d = HashBytes("copy me");
  ObjectStore::Batch batch(&copy_store);
  ASSERT_TRUE(batch.AddFile(path, d, before).ok());
  ASSERT_TRUE(batch.Commit().ok());
  EXPECT_NE(StatOf(copy_store.PathOf(d)).inode, before.inode);
  EXPECT_EQ(StatOf(path).mode, 0644u);
  EXPECT_EQ(StatOf(copy_store.PathOf(d)).mode, 0444u);
}

TEST_F(ObjectStoreTest, AddFileChangedSinceHashingFails) {
  for (uint32_t mode : {0644u, 0755u}) {  // hardlinked and copied
    SCOPED_TRACE(mode);
    std::string path = WriteFile("changing" + std::to_string(mode), "version one", mode);
    FileInfo hashed_info = StatOf(path);
    Digest d = HashBytes("version one");
    // The file grows after it was hashed.
    FILE* f = std::fopen(path.c_str(), "a");
    ASSERT_NE(f, nullptr);
    std::fputs(", and more", f);
    std::fclose(f);
    {
      ObjectStore::Batch batch(store_.get());
      Status s = batch.AddFile(path, d, hashed_info);
      EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
      EXPECT_THAT(s.message(), HasSubstr(path));
      EXPECT_THAT(s.message(), HasSubstr("changed"));
    }
    EXPECT_FALSE(store_->Has(d));
    EXPECT_FALSE(store_->Has(HashBytes("version one, and more")));
    EXPECT_THAT(TempFiles(root_), IsEmpty());
    EXPECT_EQ(Read(path), "version one, and more");
    EXPECT_EQ(StatOf(path).links, 1u);
  }
  EXPECT_THAT(VerifiedObjects(*store_), IsEmpty());
}

TEST_F(ObjectStoreTest, AddFileChangedSizeWithoutCommitLeavesNothing) {
  std::string path = WriteFile("grows.csv", "12345", 0644);
  FileInfo hashed_info = StatOf(path);
  Digest d = HashBytes("12345");
  // Same inode, new size.
  ASSERT_TRUE(::truncate(path.c_str(), 3) == 0) << std::strerror(errno);
  {
    ObjectStore::Batch batch(store_.get());
    Status s = batch.AddFile(path, d, hashed_info);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  }
  EXPECT_FALSE(store_->Has(d));
  EXPECT_THAT(TempFiles(root_), IsEmpty());
}

TEST_F(ObjectStoreTest, AddFileReplacedWithSameSizeAndMtimeFails) {
  // What rsync -t or cp -p do: a new file, renamed over the old one, with
  // the same size and modification time. Only the inode tells.
  std::string path = WriteFile("data.csv", "aaaa", 0644);
  FileInfo hashed_info = StatOf(path);
  Digest d = HashBytes("aaaa");
  std::string other = WriteFile("data.csv.new", "bbbb", 0644);
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = hashed_info.mtime_ns / 1000000000;
  times[1].tv_nsec = hashed_info.mtime_ns % 1000000000;
  ASSERT_EQ(::utimensat(AT_FDCWD, other.c_str(), times, 0), 0) << std::strerror(errno);
  ASSERT_TRUE(env_->Rename(other, path).ok());
  FileInfo now = StatOf(path);
  ASSERT_EQ(now.size, hashed_info.size);
  ASSERT_EQ(now.mtime_ns, hashed_info.mtime_ns);
  ASSERT_NE(now.inode, hashed_info.inode);

  for (bool executable : {false, true}) {
    SCOPED_TRACE(executable);
    FileInfo info = hashed_info;
    if (executable) {
      info.mode = 0755;
      ASSERT_TRUE(env_->SetMode(path, 0755).ok());
    }
    ObjectStore::Batch batch(store_.get());
    Status s = batch.AddFile(path, d, info);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    if (s.ok()) {
      EXPECT_TRUE(batch.Commit().ok());
    }
  }
  // Never an object named for "aaaa" that holds "bbbb".
  EXPECT_FALSE(store_->Has(d));
  VerifiedObjects(*store_);
}

TEST_F(ObjectStoreTest, AddFileMissingSourceIsNotFound) {
  FileInfo info;
  info.mode = 0644;
  ObjectStore::Batch batch(store_.get());
  Status s = batch.AddFile(dir_ + "/gone.csv", HashBytes("gone"), info);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_EQ(batch.staged(), 0u);
  EXPECT_THAT(TempFiles(root_), IsEmpty());
}

TEST_F(ObjectStoreTest, CorruptObjectIsDetected) {
  Result<Digest> d = store_->PutBytes("precious data");
  ASSERT_TRUE(d.ok());
  std::string path = store_->PathOf(*d);
  ASSERT_TRUE(store_->Verify(*d).ok());
  ASSERT_TRUE(env_->SetMode(path, 0644).ok());  // chmod u+w
  ASSERT_TRUE(::truncate(path.c_str(), 0) == 0);
  {
    Result<std::unique_ptr<WritableFile>> f = env_->CreateFile(path + ".new", 0444);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("precious dat4").ok());
    ASSERT_TRUE((*f)->Close().ok());
    ASSERT_TRUE(env_->Rename(path + ".new", path).ok());
  }
  Status v = store_->Verify(*d);
  EXPECT_EQ(v.code(), StatusCode::kCorrupt) << v.ToString();
  EXPECT_THAT(v.message(), HasSubstr(d->ToString()));
  EXPECT_THAT(v.message(), HasSubstr(HashBytes("precious dat4").ToString()));
  Result<std::string> r = store_->ReadVerified(*d);
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr(path));
}

TEST_F(ObjectStoreTest, CorruptObjectRewrittenInPlaceIsDetected) {
  Result<Digest> d = store_->PutBytes("0123456789");
  ASSERT_TRUE(d.ok());
  std::string path = store_->PathOf(*d);
  ASSERT_TRUE(env_->SetMode(path, 0644).ok());
  FILE* f = std::fopen(path.c_str(), "r+");
  ASSERT_NE(f, nullptr);
  std::fputs("X", f);  // same size, one byte flipped
  std::fclose(f);
  EXPECT_EQ(store_->Verify(*d).code(), StatusCode::kCorrupt);
  EXPECT_EQ(store_->ReadVerified(*d).status().code(), StatusCode::kCorrupt);
}

TEST_F(ObjectStoreTest, MaterializeModesAndLinks) {
  ScopedUmask umask(077);
  Result<Digest> d = store_->PutBytes("model weights");
  ASSERT_TRUE(d.ok());
  FileInfo object = StatOf(store_->PathOf(*d));

  // Hardlink first: a non-executable shares the object's inode.
  Result<CloneMethod> linked = store_->Materialize(*d, dir_ + "/linked", false);
  ASSERT_TRUE(linked.ok()) << linked.status().ToString();
  EXPECT_EQ(*linked, CloneMethod::kHardlink);
  EXPECT_EQ(StatOf(dir_ + "/linked").inode, object.inode);
  EXPECT_EQ(StatOf(dir_ + "/linked").mode, 0444u);

  // An executable is never hardlinked: a 0755 copy.
  Result<CloneMethod> exec = store_->Materialize(*d, dir_ + "/exec", true);
  ASSERT_TRUE(exec.ok()) << exec.status().ToString();
  EXPECT_EQ(*exec, CloneMethod::kCopy);
  FileInfo exec_info = StatOf(dir_ + "/exec");
  EXPECT_NE(exec_info.inode, object.inode);
  EXPECT_EQ(exec_info.mode, 0755u);
  EXPECT_EQ(Read(dir_ + "/exec"), "model weights");

  // Copy only: 0644 whatever the umask.
  ObjectStore copy_store(env_, root_, {CloneMethod::kCopy});
  Result<CloneMethod> copied = copy_store.Materialize(*d, dir_ + "/copied", false);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(*copied, CloneMethod::kCopy);
  FileInfo copied_info = StatOf(dir_ + "/copied");
  EXPECT_NE(copied_info.inode, object.inode);
  EXPECT_EQ(copied_info.mode, 0644u);
  EXPECT_EQ(Read(dir_ + "/copied"), "model weights");
  // The object itself is untouched.
  EXPECT_EQ(StatOf(store_->PathOf(*d)).mode, 0444u);
  EXPECT_TRUE(store_->Verify(*d).ok());
}

TEST_F(ObjectStoreTest, MaterializeErrors) {
  Digest missing = HashBytes("not here");
  Result<CloneMethod> r = store_->Materialize(missing, dir_ + "/out", false);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr(missing.ToString()));
  EXPECT_FALSE(Exists(env_, dir_ + "/out"));

  Result<Digest> d = store_->PutBytes("x");
  ASSERT_TRUE(d.ok());
  WriteFile("taken", "other");
  Result<CloneMethod> taken = store_->Materialize(*d, dir_ + "/taken", false);
  EXPECT_EQ(taken.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Read(dir_ + "/taken"), "other");
}

TEST_F(ObjectStoreTest, MaterializeOntoExistingFileDoesNotDisableHardlinks) {
  Result<Digest> a = store_->PutBytes("a");
  Result<Digest> b = store_->PutBytes("b");
  ASSERT_TRUE(a.ok() && b.ok());
  WriteFile("taken", "other");
  EXPECT_EQ(store_->Materialize(*a, dir_ + "/taken", false).status().code(),
            StatusCode::kAlreadyExists);
  // The clash was the destination's, not the filesystem's: hardlinks still work.
  Result<CloneMethod> linked = store_->Materialize(*b, dir_ + "/b", false);
  ASSERT_TRUE(linked.ok()) << linked.status().ToString();
  EXPECT_EQ(*linked, CloneMethod::kHardlink);
  EXPECT_EQ(StatOf(dir_ + "/b").inode, StatOf(store_->PathOf(*b)).inode);

  // Likewise for a batch whose source is missing.
  FileInfo info;
  info.mode = 0644;
  {
    ObjectStore::Batch batch(store_.get());
    EXPECT_EQ(batch.AddFile(dir_ + "/gone", HashBytes("gone"), info).code(), StatusCode::kNotFound);
  }
  std::string path = WriteFile("c.csv", "c");
  ObjectStore::Batch batch(store_.get());
  ASSERT_TRUE(batch.AddFile(path, HashBytes("c"), StatOf(path)).ok());
  ASSERT_TRUE(batch.Commit().ok());
  EXPECT_EQ(StatOf(store_->PathOf(HashBytes("c"))).inode, StatOf(path).inode);
}

TEST_F(ObjectStoreTest, BatchAcceptsAddsFromSeveralThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::string> contents = MakeContents(kThreads * kPerThread, 20);
  std::vector<std::string> paths;
  for (size_t i = 0; i < contents.size(); ++i) {
    paths.push_back(WriteFile("f" + std::to_string(i), contents[i], i % 3 == 0 ? 0755 : 0644));
  }
  ObjectStore::Batch batch(store_.get());
  std::barrier start(kThreads);
  std::vector<Status> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = t * kPerThread; i < (t + 1) * kPerThread; ++i) {
        // Half as files, half as bytes.
        Status s = i % 2 == 0 ? batch.AddFile(paths[i], HashBytes(contents[i]), StatOf(paths[i]))
                              : batch.AddBytes(contents[i], HashBytes(contents[i]));
        if (!s.ok()) {
          errors[t] = s;
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : errors) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(batch.staged(), contents.size());
  ASSERT_TRUE(batch.Commit().ok());
  std::set<Digest> all;
  for (const std::string& c : contents) all.insert(HashBytes(c));
  EXPECT_EQ(VerifiedObjects(*store_), all);
  EXPECT_THAT(TempFiles(root_), IsEmpty());
}

TEST_F(ObjectStoreTest, TwoStoresPuttingTheSameObjectsAtOnce) {
  std::vector<std::string> contents = MakeContents(6, 30);
  ObjectStore other(env_, root_, kLinkThenCopy);
  std::barrier start(2);
  Status results[2];
  auto put = [&](ObjectStore* store, int t) {
    ObjectStore::Batch batch(store);
    for (const std::string& c : contents) {
      results[t] = batch.AddBytes(c, HashBytes(c));
      if (!results[t].ok()) return;
    }
    // Both have staged everything before either commits.
    start.arrive_and_wait();
    results[t] = batch.Commit();
  };
  std::thread a(put, store_.get(), 0);
  std::thread b(put, &other, 1);
  a.join();
  b.join();
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_TRUE(results[1].ok()) << results[1].ToString();
  std::set<Digest> all;
  for (const std::string& c : contents) all.insert(HashBytes(c));
  EXPECT_EQ(VerifiedObjects(*store_), all);
  EXPECT_THAT(TempFiles(root_), IsEmpty());
}

TEST(ParseCloneOrderTest, ParsesLists) {
  Result<std::vector<CloneMethod>> r = ParseCloneOrder("reflink, copy");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (std::vector<CloneMethod>{CloneMethod::kReflink, CloneMethod::kCopy}));
  Result<std::vector<CloneMethod>> all = ParseCloneOrder("reflink,hardlink,copy");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<CloneMethod>{CloneMethod::kReflink, CloneMethod::kHardlink,
                                            CloneMethod::kCopy}));
  Result<std::vector<CloneMethod>> one = ParseCloneOrder("hardlink");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, std::vector<CloneMethod>{CloneMethod::kHardlink});
  for (CloneMethod m : {CloneMethod::kReflink, CloneMethod::kHardlink, CloneMethod::kCopy}) {
    Result<std::vector<CloneMethod>> back = ParseCloneOrder(CloneMethodName(m));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, std::vector<CloneMethod>{m});
  }
}

TEST(ParseCloneOrderTest, RejectsUnknownWordNamingIt) {
  Result<std::vector<CloneMethod>> r = ParseCloneOrder("hardlnk");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'hardlnk'"));
  Result<std::vector<CloneMethod>> later = ParseCloneOrder("reflink,symlink");
  EXPECT_EQ(later.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(later.status().message(), HasSubstr("'symlink'"));
  EXPECT_EQ(ParseCloneOrder("reflink,,copy").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ObjectStoreTest, RemoveTemporariesDeletesLeftovers) {
  Result<Digest> kept = store_->PutBytes("kept");
  ASSERT_TRUE(kept.ok());
  WriteFile("objects/tmp/leftover.1", "partial");
  WriteFile("objects/tmp/leftover.2", "");
  Result<size_t> removed = store_->RemoveTemporaries();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2u);
  EXPECT_THAT(TempFiles(root_), IsEmpty());
  EXPECT_TRUE(store_->Verify(*kept).ok());
  Result<size_t> again = store_->RemoveTemporaries();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);

  ObjectStore no_tmp(env_, dir_ + "/never-initialised", kLinkThenCopy);
  Result<size_t> none = no_tmp.RemoveTemporaries();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
}

TEST_F(ObjectStoreTest, ForEachListsExactlyTheObjects) {
  std::set<Digest> stored;
  for (const std::string& c : MakeContents(7, 10)) {
    Result<Digest> d = store_->PutBytes(c);
    ASSERT_TRUE(d.ok());
    stored.insert(*d);
  }
  // Things in the objects folder that are not objects.
  WriteFile("objects/tmp/" + std::string(62, 'a'), "temp");
  WriteFile("objects/README", "not an object");
  ASSERT_TRUE(env_->CreateDir(root_ + "/zz").ok());
  WriteFile("objects/zz/" + std::string(62, 'b'), "bad fan-out name");
  ASSERT_TRUE(env_->CreateDir(root_ + "/ab").ok());
  WriteFile("objects/ab/short", "bad object name");
  WriteFile("objects/ab/" + std::string(62, 'C'), "upper-case hex");

  std::map<Digest, uint64_t> sizes;
  Status s = store_->ForEach([&](const Digest& d, const FileInfo& info) {
    sizes[d] = info.size;
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::set<Digest> listed;
  for (const auto& [d, size] : sizes) {
    listed.insert(d);
    EXPECT_EQ(size, StatOf(store_->PathOf(d)).size);
  }
  EXPECT_EQ(listed, stored);

  // Remove takes one out of the listing.
  ASSERT_TRUE(store_->Remove(*stored.begin()).ok());
  EXPECT_FALSE(store_->Has(*stored.begin()));
  stored.erase(stored.begin());
  EXPECT_EQ(VerifiedObjects(*store_), stored);
}

TEST_F(ObjectStoreTest, ForEachStopsAtCallbackError) {
  ASSERT_TRUE(store_->PutBytes("one").ok());
  ASSERT_TRUE(store_->PutBytes("two").ok());
  int calls = 0;
  Status s = store_->ForEach([&](const Digest&, const FileInfo&) {
    ++calls;
    return InternalError("stop");
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "stop");
  EXPECT_EQ(calls, 1);
}

// --- Faults -----------------------------------------------------------------

TEST_F(ObjectStoreTest, DiskFullDuringBatchLeavesOnlyValidObjects) {
  // One committed batch first, so there is something to keep.
  std::vector<std::string> first = MakeContents(3, 50);
  {
    ObjectStore::Batch batch(store_.get());
    for (const std::string& c : first) ASSERT_TRUE(batch.AddBytes(c, HashBytes(c)).ok());
    ASSERT_TRUE(batch.Commit().ok());
  }

  FaultEnv fault(env_);
  ObjectStore faulty(&fault, root_, kLinkThenCopy);
  std::vector<std::string> contents = MakeContents(10, 1000);
  uint64_t total = 0;
  for (const std::string& c : contents) total += c.size();
  fault.SetFreeSpace(static_cast<int64_t>(total / 2));
  Status failure;
  {
    ObjectStore::Batch batch(&faulty);
    for (const std::string& c : contents) {
      failure = batch.AddBytes(c, HashBytes(c));
      if (!failure.ok()) break;
    }
    if (failure.ok()) failure = batch.Commit();
  }
  ASSERT_FALSE(failure.ok());
  EXPECT_EQ(failure.code(), StatusCode::kUnavailable) << failure.ToString();
  EXPECT_THAT(failure.message(), HasSubstr("No space left"));
  EXPECT_THAT(TempFiles(root_), IsEmpty());

  ObjectStore real(env_, root_, kLinkThenCopy);
  std::set<Digest> expected;
  for (const std::string& c : first) expected.insert(HashBytes(c));
  EXPECT_EQ(VerifiedObjects(real), expected);
}

TEST_F(ObjectStoreTest, DiskFullDuringAddFileCopy) {
  FaultEnv fault(env_);
  ObjectStore faulty(&fault, root_, kLinkThenCopy);
  std::string content(4096, 'x');
  std::string exec = WriteFile("big.sh", content, 0755);  // must be copied
  std::string plain = WriteFile("big.csv", content + "y", 0644);
  fault.SetFreeSpace(1000);
  {
    ObjectStore::Batch batch(&faulty);
    // A hardlink takes no space.
    ASSERT_TRUE(batch.AddFile(plain, HashBytes(content + "y"), StatOf(plain)).ok());
    Status s = batch.AddFile(exec, HashBytes(content), StatOf(exec));
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("No space left"));
  }
  EXPECT_THAT(TempFiles(root_), IsEmpty());
  EXPECT_THAT(VerifiedObjects(ObjectStore(env_, root_, kLinkThenCopy)), IsEmpty());
  EXPECT_EQ(Read(exec), content);
}

// Runs one batch of `contents` on `store`, stopping at the first error as a
// dying process would. Returns the first error.
Status RunBatch(ObjectStore* store, const std::vector<std::string>& contents) {
  ObjectStore::Batch batch(store);
  for (const std::string& c : contents) KEEL_RETURN_IF_ERROR(batch.AddBytes(c, HashBytes(c)));
  return batch.Commit();
}

TEST_F(ObjectStoreTest, CrashAtEveryPointOfABatchLeavesNoBadObject) {
  // About a hundred batches, each synced: on tmpfs where there is one, since
  // fsync there costs nothing, and a process crash keeps unsynced data anyway.
  std::string base = dir_;
  char shm[] = "/dev/shm/keel-cas-crash-XXXXXX";
  if (::mkdtemp(shm) != nullptr) base = shm;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{base == dir_ ? std::string() : base};

  std::vector<std::string> contents = MakeContents(20, 64);
  std::set<Digest> all;
  for (const std::string& c : contents) all.insert(HashBytes(c));

  // Count the mutations a whole batch makes.
  int64_t needed = 0;
  {
    std::string root = base + "/count";
    ObjectStore real(env_, root, kLinkThenCopy);
    ASSERT_TRUE(real.Init().ok());
    FaultEnv counter(env_);
    ObjectStore counted(&counter, root, kLinkThenCopy);
    ASSERT_TRUE(RunBatch(&counted, contents).ok());
    needed = counter.mutations();
  }
  ASSERT_GT(needed, 2 * static_cast<int64_t>(contents.size()));

  for (int64_t n = 0; n <= needed; ++n) {
    SCOPED_TRACE("crash after " + std::to_string(n) + " of " + std::to_string(needed));
    std::string root = base + "/crash" + std::to_string(n);
    ObjectStore real(env_, root, kLinkThenCopy);
    ASSERT_TRUE(real.Init().ok());
    FaultEnv fault(env_);
    ObjectStore crashing(&fault, root, kLinkThenCopy);
    fault.CrashAfter(n);
    Status s = RunBatch(&crashing, contents);
    EXPECT_EQ(s.ok(), n == needed) << s.ToString();

    // Whatever is visible is whole.
    std::set<Digest> visible = VerifiedObjects(real);
    for (const Digest& d : visible) EXPECT_TRUE(all.count(d)) << d.ToString();
    if (n == needed) {
      EXPECT_EQ(visible, all);
    }

    Result<size_t> removed = real.RemoveTemporaries();
    ASSERT_TRUE(removed.ok()) << removed.status().ToString();
    EXPECT_THAT(TempFiles(root), IsEmpty());

    // The interrupted batch can be run again to completion.
    Status redo = RunBatch(&real, contents);
    ASSERT_TRUE(redo.ok()) << redo.ToString();
    EXPECT_EQ(VerifiedObjects(real), all);
    EXPECT_THAT(TempFiles(root), IsEmpty());
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
}

// Packs: many small objects in one file.

std::vector<std::string> PackFiles(Env* env, const std::string& root) {
  Result<std::vector<DirEntry>> entries = env->ListDir(root + "/pack");
  std::vector<std::string> names;
  if (entries.ok()) {
    for (const DirEntry& e : *entries) names.push_back(e.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_F(ObjectStoreTest, PackingBatchPacksSmallObjectsAndKeepsLargeOnesLoose) {
  std::vector<std::string> small = MakeContents(100, 50);
  std::string large(kPackMaxObject + 1, 'L');
  std::vector<std::string> paths;
  {
    ObjectStore::Batch batch(store_.get(), Packing::kSmallObjects);
    for (size_t i = 0; i < small.size(); ++i) {
      std::string path = WriteFile("s" + std::to_string(i), small[i]);
      ASSERT_TRUE(batch.AddFile(path, HashBytes(small[i]), StatOf(path)).ok());
    }
    std::string big = WriteFile("big", large);
    ASSERT_TRUE(batch.AddFile(big, HashBytes(large), StatOf(big)).ok());
    ASSERT_TRUE(batch.AddBytes("manifest-like", HashBytes("manifest-like"), Placement::kLoose).ok());
    EXPECT_EQ(batch.staged(), 102u);
    EXPECT_FALSE(store_->Has(HashBytes(small[0])));  // nothing visible before Commit
    ASSERT_TRUE(batch.Commit().ok());
  }
  EXPECT_EQ(PackFiles(env_, root_).size(), 2u);  // one .pack, one .idx
  for (const std::string& data : small) {
    Digest d = HashBytes(data);
    EXPECT_TRUE(store_->Has(d));
    EXPECT_FALSE(std::filesystem::exists(store_->PathOf(d)));  // packed, not loose
    Result<std::string> back = store_->ReadVerified(d);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, data);
    EXPECT_TRUE(store_->Verify(d).ok());
  }
  EXPECT_TRUE(std::filesystem::exists(store_->PathOf(HashBytes(large))));
  EXPECT_TRUE(std::filesystem::exists(store_->PathOf(HashBytes("manifest-like"))));

  // A second store (another process) finds the pack on disk.
  ObjectStore other(env_, root_, kLinkThenCopy);
  EXPECT_TRUE(other.Has(HashBytes(small[42])));
  size_t listed = 0;
  ASSERT_TRUE(other.ForEach([&](const Digest&, const FileInfo&) {
    ++listed;
    return Status::Ok();
  }).ok());
  EXPECT_EQ(listed, 102u);

  // Checkout from a pack writes a plain file with the requested mode.
  Result<CloneMethod> m = other.Materialize(HashBytes(small[7]), dir_ + "/out", /*executable=*/true);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(Read(dir_ + "/out"), small[7]);
  EXPECT_EQ(StatOf(dir_ + "/out").mode, 0755u);
}

TEST_F(ObjectStoreTest, PackedFileThatChangedSinceHashingIsRefused) {
  std::string path = WriteFile("f", "original");
  Digest hashed = HashBytes("original");
  FileInfo info = StatOf(path);
  ASSERT_TRUE(std::filesystem::remove(path));
  WriteFile("f", "replaced");
  ObjectStore::Batch batch(store_.get(), Packing::kSmallObjects);
  Status s = batch.AddFile(path, hashed, info);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_FALSE(store_->Has(hashed));
}

TEST_F(ObjectStoreTest, RemoveObjectsRewritesPartlyDeadPacksAndDeletesDeadOnes) {
  std::vector<std::string> first = MakeContents(10, 20);
  std::vector<std::string> second = MakeContents(10, 900);
  for (const auto* set : {&first, &second}) {
    ObjectStore::Batch batch(store_.get(), Packing::kSmallObjects);
    for (const std::string& data : *set) ASSERT_TRUE(batch.AddBytes(data, HashBytes(data)).ok());
    ASSERT_TRUE(batch.Commit().ok());
  }
  ASSERT_EQ(PackFiles(env_, root_).size(), 4u);
  std::vector<Digest> doomed;
  for (const std::string& data : second) doomed.push_back(HashBytes(data));  // all of pack 2
  for (int i = 0; i < 10; i += 2) doomed.push_back(HashBytes(first[i]));    // half of pack 1
  ASSERT_TRUE(store_->RemoveObjects(doomed).ok());
  EXPECT_EQ(PackFiles(env_, root_).size(), 2u);  // pack 2 gone, pack 1 rewritten
  for (int i = 0; i < 10; ++i) {
    Digest d = HashBytes(first[i]);
    EXPECT_EQ(store_->Has(d), i % 2 == 1) << i;
    if (i % 2 == 1) {
      EXPECT_TRUE(store_->Verify(d).ok());
    }
  }
  for (const std::string& data : second) EXPECT_FALSE(store_->Has(HashBytes(data)));
  ObjectStore fresh(env_, root_, kLinkThenCopy);
  size_t listed = 0;
  ASSERT_TRUE(fresh.ForEach([&](const Digest&, const FileInfo&) {
    ++listed;
    return Status::Ok();
  }).ok());
  EXPECT_EQ(listed, 5u);
}

TEST_F(ObjectStoreTest, DamagedPackIsReported) {
  std::vector<std::string> data = MakeContents(3, 100);
  {
    ObjectStore::Batch batch(store_.get(), Packing::kSmallObjects);
    for (const std::string& d : data) ASSERT_TRUE(batch.AddBytes(d, HashBytes(d)).ok());
    ASSERT_TRUE(batch.Commit().ok());
  }
  std::vector<std::string> files = PackFiles(env_, root_);
  ASSERT_EQ(files.size(), 2u);
  std::string pack = root_ + "/pack/" + files[1];  // .pack sorts after .idx
  ASSERT_EQ(pack.substr(pack.size() - 5), ".pack");
  ::chmod(pack.c_str(), 0644);
  {
    int fd = ::open(pack.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "XXXX", 4, 8 + 5), 4);  // inside the first object
    ::close(fd);
  }
  int corrupt = 0;
  for (const std::string& d : data) {
    Status s = store_->Verify(HashBytes(d));
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kCorrupt);
      EXPECT_THAT(s.message(), HasSubstr(pack));
      ++corrupt;
    }
  }
  EXPECT_EQ(corrupt, 1);

  // A damaged index makes listing fail, naming the index.
  std::string index = root_ + "/pack/" + files[0];
  ::chmod(index.c_str(), 0644);
  {
    int fd = ::open(index.c_str(), O_WRONLY);
    ASSERT_EQ(::pwrite(fd, "Z", 1, 20), 1);
    ::close(fd);
  }
  ObjectStore fresh(env_, root_, kLinkThenCopy);
  Status listed = fresh.ForEach([](const Digest&, const FileInfo&) { return Status::Ok(); });
  EXPECT_EQ(listed.code(), StatusCode::kCorrupt);
  EXPECT_THAT(listed.message(), HasSubstr(index));
}

TEST_F(ObjectStoreTest, CrashAtEveryPointOfAPackingBatchLeavesNoBadObject) {
  std::vector<std::string> data = MakeContents(12, 64);
  for (int64_t n = 0;; ++n) {
    SCOPED_TRACE("crash after " + std::to_string(n));
    std::string root = dir_ + "/crash" + std::to_string(n);
    ObjectStore real(env_, root, kLinkThenCopy);
    ASSERT_TRUE(real.Init().ok());
    FaultEnv faulty(env_);
    faulty.CrashAfter(n);
    Status committed;
    {
      ObjectStore store(&faulty, root, kLinkThenCopy);
      ObjectStore::Batch batch(&store, Packing::kSmallObjects);
      for (const std::string& d : data) {
        committed = batch.AddBytes(d, HashBytes(d));
        if (!committed.ok()) break;
      }
      if (committed.ok()) committed = batch.Commit();
    }
    // A fresh reader sees all of the objects or none, each intact.
    ObjectStore after(env_, root, kLinkThenCopy);
    size_t visible = 0;
    Status listed = after.ForEach([&](const Digest& d, const FileInfo&) {
      ++visible;
      return after.Verify(d);
    });
    ASSERT_TRUE(listed.ok()) << listed.ToString();
    EXPECT_TRUE(visible == 0 || visible == data.size()) << visible;
    ASSERT_TRUE(after.RemoveTemporaries().ok());
    EXPECT_THAT(TempFiles(root), IsEmpty());
    for (const std::string& f : PackFiles(env_, root)) {
      EXPECT_TRUE(std::filesystem::exists(root + "/pack/" + f.substr(0, f.rfind('.')) + ".idx")) << f;
    }
    if (committed.ok()) {
      EXPECT_EQ(visible, data.size());
      break;
    }
    ASSERT_LT(n, 200);
  }
}

}  // namespace
}  // namespace keel
