// `keel data add|status|checkout|verify` and `keel gc` on real files.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "keel_runner.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

// Everything observable about a tree: per relative path, its type and
// content (bytes, link target) and exec bit.
std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = fs::relative(it->path(), root).string();
    struct stat st;
    ::lstat(it->path().c_str(), &st);
    if (S_ISLNK(st.st_mode)) {
      out[rel] = "link:" + fs::read_symlink(it->path()).string();
    } else if (S_ISDIR(st.st_mode)) {
      out[rel] = "dir";
    } else {
      out[rel] = std::string((st.st_mode & 0100) ? "exec:" : "file:") + ReadFile(it->path());
    }
  }
  return out;
}

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(RunProgram(dir_.path(), {"git", "init", "-q"}).exit_code, 0);
    RunResult r = RunKeel(dir_.path(), {"init"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  RunResult Keel(const std::vector<std::string>& args) { return RunKeel(dir_.path(), args); }
  nlohmann::json KeelJson(const std::vector<std::string>& args) { return RunKeelJson(dir_.path(), args); }
  std::string State(const std::string& pointer) {
    nlohmann::json j = KeelJson({"data", "status", pointer});
    return j.size() == 1 ? j[0]["state"].get<std::string>() : "?";
  }
  std::string ObjectPath(const std::string& hash) {
    std::string hex = hash.substr(7);
    return dir_ / (".keel/objects/" + hex.substr(0, 2) + "/" + hex.substr(2));
  }

  // A folder with every kind of entry keel stores.
  void MakeTrickyFolder(const std::string& at) {
    MakeDirs(at + "/nested/deeper/deepest");
    MakeDirs(at + "/empty-folder");
    MakeDirs(at + "/données");
    WriteFile(at + "/top.csv", "a,b\n1,2\n");
    WriteFile(at + "/empty-file", "");
    WriteFile(at + "/nested/deeper/deepest/leaf.txt", "leaf");
    WriteFile(at + "/données/é ü 漢字.txt", "unicode");
    WriteFile(at + "/run.sh", "#!/bin/sh\necho hi\n");
    ::chmod((at + "/run.sh").c_str(), 0755);
    ASSERT_EQ(::symlink("../top.csv", (at + "/nested/link-inside").c_str()), 0);
    ASSERT_EQ(::symlink("/etc/hostname", (at + "/link-outside").c_str()), 0);
  }

  TempDir dir_;
};

TEST_F(DataTest, FileRoundTrip) {
  fs::copy_file(SourcePath("examples/census-income/data/adult.csv"), dir_ / "adult.csv");
  std::string original = Sha256OfFile(dir_ / "adult.csv");
  RunResult quiet = Keel({"data", "add", "adult.csv"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");  // no progress bar when stderr is not a terminal
  nlohmann::json added = KeelJson({"data", "add", "adult.csv"});
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0]["hash"], original);
  EXPECT_EQ(added[0]["size"], 5277522);
  EXPECT_EQ(added[0]["files"], 1);
  std::string pointer = ReadFile(dir_ / "adult.csv.keel");
  EXPECT_NE(pointer.find("hash: " + original), std::string::npos) << pointer;
  EXPECT_NE(pointer.find("size: 5277522"), std::string::npos) << pointer;
  EXPECT_EQ(ReadFile(dir_ / ".gitignore"), "/.keel\n/adult.csv\n");
  EXPECT_EQ(State("adult.csv"), "unchanged");

  fs::remove(dir_ / "adult.csv");
  EXPECT_EQ(State("adult.csv.keel"), "not checked out");
  RunResult r = Keel({"data", "checkout", "adult.csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Sha256OfFile(dir_ / "adult.csv"), original);
  EXPECT_EQ(State("adult.csv"), "unchanged");
  EXPECT_EQ(Keel({"data", "verify"}).exit_code, 0);
}

TEST_F(DataTest, NestedFolderRoundTripKeepsEveryKindOfEntry) {
  MakeTrickyFolder(dir_ / "tricky");
  auto before = Snapshot(dir_ / "tricky");
  nlohmann::json added = KeelJson({"data", "add", "tricky"});
  EXPECT_EQ(added[0]["kind"], "dir");
  EXPECT_EQ(added[0]["files"], 7);  // 5 files + 2 links
  EXPECT_EQ(State("tricky"), "unchanged");

  fs::remove_all(dir_ / "tricky");
  RunResult r = Keel({"data", "checkout"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Snapshot(dir_ / "tricky"), before);
  // The link out of the project is stored as a link, never followed: the
  // file it points at is not in the store.
  std::string hostname = Sha256OfFile("/etc/hostname");
  EXPECT_FALSE(PathExists(ObjectPath(hostname))) << "followed a link out of the project";
  EXPECT_EQ(State("tricky"), "unchanged");
}

TEST_F(DataTest, ModifyAddAgainThenCheckOutTheOldPointer) {
  MakeDirs(dir_ / "data");
  WriteFile(dir_ / "data/train.csv", "x,y\n1,2\n");
  MakeTrickyFolder(dir_ / "data/images");
  ASSERT_EQ(Keel({"data", "add", "data/train.csv", "data/images"}).exit_code, 0);
  std::string v1_file = ReadFile(dir_ / "data/train.csv.keel");
  std::string v1_dir = ReadFile(dir_ / "data/images.keel");
  auto v1_tree = Snapshot(dir_ / "data/images");

  // Version 2: an in-place append, a new file, a removed file, a changed mode.
  {
    std::ofstream append(dir_ / "data/train.csv", std::ios::app);
    append << "3,4\n";
  }
  WriteFile(dir_ / "data/images/new.bin", "new");
  fs::remove(dir_ / "data/images/top.csv");
  ::chmod((dir_ / "data/images/run.sh").c_str(), 0644);
  nlohmann::json st = KeelJson({"data", "status", "data/images"});
  ASSERT_EQ(st[0]["state"], "modified");
  std::map<std::string, std::string> changes;
  for (const auto& c : st[0]["changes"]) changes[c["path"]] = c["change"];
  EXPECT_EQ(changes, (std::map<std::string, std::string>{
                         {"new.bin", "added"}, {"top.csv", "deleted"}, {"run.sh", "modified"}}));
  EXPECT_EQ(State("data/train.csv"), "modified");
  ASSERT_EQ(Keel({"data", "add", "data/train.csv", "data/images"}).exit_code, 0);
  EXPECT_NE(ReadFile(dir_ / "data/train.csv.keel"), v1_file);

  // As after `git checkout` of the old pointers.
  WriteFile(dir_ / "data/train.csv.keel", v1_file);
  WriteFile(dir_ / "data/images.keel", v1_dir);
  EXPECT_EQ(State("data/train.csv"), "modified");
  RunResult r = Keel({"data", "checkout"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "data/train.csv"), "x,y\n1,2\n");
  EXPECT_EQ(Snapshot(dir_ / "data/images"), v1_tree);  // new.bin removed, top.csv back
  EXPECT_EQ(State("data/images"), "unchanged");
  EXPECT_EQ(Keel({"data", "verify"}).exit_code, 0);
}

TEST_F(DataTest, CheckoutSwapsFilesAndFoldersOfTheSameName) {
  MakeDirs(dir_ / "d/x/deep");
  WriteFile(dir_ / "d/x/deep/a.txt", "a");
  WriteFile(dir_ / "d/y", "y is a file");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  std::string v1 = ReadFile(dir_ / "d.keel");
  auto v1_tree = Snapshot(dir_ / "d");

  fs::remove_all(dir_ / "d/x");
  WriteFile(dir_ / "d/x", "x is a file now");
  fs::remove(dir_ / "d/y");
  MakeDirs(dir_ / "d/y/z");
  WriteFile(dir_ / "d/y/z/b.txt", "b");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  std::string v2 = ReadFile(dir_ / "d.keel");
  auto v2_tree = Snapshot(dir_ / "d");

  WriteFile(dir_ / "d.keel", v1);
  RunResult r = Keel({"data", "checkout"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Snapshot(dir_ / "d"), v1_tree);
  WriteFile(dir_ / "d.keel", v2);
  r = Keel({"data", "checkout"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Snapshot(dir_ / "d"), v2_tree);
  EXPECT_EQ(State("d"), "unchanged");
}

TEST_F(DataTest, ManySmallFilesArePackedAndRoundTrip) {
  for (int d = 0; d < 10; ++d) {
    MakeDirs(dir_ / ("many/d" + std::to_string(d)));
    for (int f = 0; f < 30; ++f) {
      WriteFile(dir_ / ("many/d" + std::to_string(d) + "/f" + std::to_string(f)),
                std::to_string(d * 1000 + f) + std::string(static_cast<size_t>(f * 7), 'z'));
    }
  }
  auto before = Snapshot(dir_ / "many");
  nlohmann::json added = KeelJson({"data", "add", "many"});
  EXPECT_EQ(added[0]["files"], 300);
  EXPECT_EQ(added[0]["objects_stored"], 301);  // 300 files + the manifest
  // Two files (pack + index) instead of one per object.
  size_t pack_files = 0;
  for (const auto& e : fs::directory_iterator(dir_ / ".keel/objects/pack")) pack_files += e.is_regular_file();
  EXPECT_EQ(pack_files, 2u);
  fs::remove_all(dir_ / "many");
  ASSERT_EQ(Keel({"data", "checkout"}).exit_code, 0);
  EXPECT_EQ(Snapshot(dir_ / "many"), before);
  nlohmann::json verify = KeelJson({"data", "verify"});
  EXPECT_EQ(verify["objects"], 301);
  EXPECT_EQ(verify["ok"], true);
}

TEST_F(DataTest, LogListsEveryVersionWithItsGitCommitAndWhetherItIsStored) {
  WriteFile(dir_ / "f.txt", "v1");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-c", "user.name=t", "-c", "user.email=t@localhost"});
    return RunProgram(dir_.path(), args);
  };
  ASSERT_EQ(git({"add", "-A"}).exit_code, 0);
  ASSERT_EQ(git({"commit", "-qm", "v1"}).exit_code, 0);
  std::string head = RunProgram(dir_.path(), {"git", "rev-parse", "HEAD"}).out.substr(0, 40);
  WriteFile(dir_ / "f.txt", "v2");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);  // unchanged: no new version

  nlohmann::json log = KeelJson({"data", "log", "f.txt"});
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0]["git_commit"], head);  // newest first
  EXPECT_EQ(log[1]["git_commit"], "");    // added before the first commit
  EXPECT_EQ(log[0]["stored"], true);
  EXPECT_EQ(log[1]["stored"], true);
  ASSERT_EQ(Keel({"gc", "--workspace"}).exit_code, 0);
  log = KeelJson({"data", "log", "f.txt.keel"});
  EXPECT_EQ(log[1]["stored"], false);
  RunResult missing = Keel({"data", "log", "other.txt"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("other.txt: no recorded versions"), std::string::npos) << missing.err;
}

TEST_F(DataTest, PointerPathCannotReachOutsideItsFolder) {
  MakeDirs(dir_ / "d");
  WriteFile(dir_ / "d/f.txt", "f");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  std::string good = ReadFile(dir_ / "d.keel");
  for (const std::string evil : {".", "..", ".git", ".keel"}) {
    std::string text = good;
    text.replace(text.find("path: d"), 7, "path: " + evil);
    WriteFile(dir_ / "evil.keel", text);
    RunResult r = Keel({"data", "checkout", "--force", "evil"});
    EXPECT_EQ(r.exit_code, 2) << evil;
    EXPECT_NE(r.err.find("evil.keel:2:7: field 'path'"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(PathExists(dir_ / ".git/HEAD"));
  EXPECT_TRUE(PathExists(dir_ / ".keel/keel.db"));
  EXPECT_EQ(ReadFile(dir_ / "d/f.txt"), "f");
}

TEST_F(DataTest, GcNeverMistakesAFileForAManifest) {
  // A data file whose bytes begin like a manifest.
  WriteFile(dir_ / "notes.txt", "keel-manifest 1\nthis is my notes file\n");
  ASSERT_EQ(Keel({"data", "add", "notes.txt"}).exit_code, 0);
  MakeDirs(dir_ / "d");
  WriteFile(dir_ / "d/a", "a");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  RunResult gc = Keel({"gc", "--workspace"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  fs::remove_all(dir_ / "d");
  fs::remove(dir_ / "notes.txt");
  ASSERT_EQ(Keel({"data", "checkout"}).exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ / "d/a"), "a");
  EXPECT_EQ(ReadFile(dir_ / "notes.txt"), "keel-manifest 1\nthis is my notes file\n");
}

TEST_F(DataTest, ConcurrentAddsInOneFolderKeepEveryIgnoreEntry) {
  std::vector<pid_t> pids;
  for (int i = 0; i < 6; ++i) {
    WriteFile(dir_ / ("f" + std::to_string(i) + ".csv"), std::to_string(i));
  }
  for (int i = 0; i < 6; ++i) pids.push_back(StartKeel(dir_.path(), {"data", "add", "f" + std::to_string(i) + ".csv"}));
  for (pid_t pid : pids) EXPECT_EQ(WaitFor(pid), 0);
  std::string ignore = ReadFile(dir_ / ".gitignore");
  for (int i = 0; i < 6; ++i) {
    EXPECT_NE(ignore.find("/f" + std::to_string(i) + ".csv\n"), std::string::npos) << ignore;
  }
}

TEST_F(DataTest, IgnoreEntriesEscapeGitPatternCharacters) {
  WriteFile(dir_ / "data[1].csv", "x");
  WriteFile(dir_ / "#notes", "y");
  ASSERT_EQ(Keel({"data", "add", "data[1].csv", "#notes"}).exit_code, 0);
  RunResult st = RunProgram(dir_.path(), {"git", "status", "--porcelain", "--untracked-files=all"});
  EXPECT_EQ(st.out.find("data[1].csv\n"), std::string::npos) << st.out;
  EXPECT_EQ(st.out.find("#notes\n"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("data[1].csv.keel"), std::string::npos) << st.out;
}

TEST_F(DataTest, FolderHoldingAPointerIsRefused) {
  MakeDirs(dir_ / "data/raw");
  WriteFile(dir_ / "data/raw/a", "a");
  ASSERT_EQ(Keel({"data", "add", "data/raw"}).exit_code, 0);
  RunResult r = Keel({"data", "add", "data"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("data/raw.keel: a pointer inside data"), std::string::npos) << r.err;
  EXPECT_FALSE(PathExists(dir_ / "data.keel"));
}

TEST_F(DataTest, AFailingPathAddsNothing) {
  WriteFile(dir_ / "a.csv", "a");
  RunResult r = Keel({"data", "add", "a.csv", "nothere.csv"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("nothere.csv: no such file or folder (nothing was added)"), std::string::npos) << r.err;
  EXPECT_FALSE(PathExists(dir_ / "a.csv.keel"));
}

TEST_F(DataTest, CheckoutReplacesAFileWithAnEmptyFolderAndBack) {
  MakeDirs(dir_ / "d/e");
  WriteFile(dir_ / "d/keep", "k");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  std::string v1 = ReadFile(dir_ / "d.keel");
  fs::remove(dir_ / "d/e");
  WriteFile(dir_ / "d/e", "now a file");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  std::string v2 = ReadFile(dir_ / "d.keel");
  WriteFile(dir_ / "d.keel", v1);
  RunResult r = Keel({"data", "checkout"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_directory(dir_ / "d/e"));
  WriteFile(dir_ / "d.keel", v2);
  r = Keel({"data", "checkout"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "d/e"), "now a file");
}

TEST_F(DataTest, LeftoversOfAKilledCheckoutAreNeverDataAndAreCleanedUp) {
  MakeDirs(dir_ / "d");
  WriteFile(dir_ / "d/a", "a");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  // What a checkout killed between writing and renaming leaves behind.
  WriteFile(dir_ / "d/.keel-tmp-99999-1-a", "half written");
  EXPECT_EQ(State("d"), "unchanged");
  fs::remove(dir_ / "d/a");
  ASSERT_EQ(Keel({"data", "checkout"}).exit_code, 0);
  EXPECT_FALSE(PathExists(dir_ / "d/.keel-tmp-99999-1-a"));
  EXPECT_EQ(ReadFile(dir_ / "d/a"), "a");
}

TEST_F(DataTest, NonUtf8NamesAreRefusedAtTheTopAndKeptInsideFolders) {
  std::string latin1 = "caf\xe9 #1.csv";
  WriteFile(dir_ / latin1, "x");
  RunResult r = Keel({"data", "add", latin1});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not valid UTF-8"), std::string::npos) << r.err;
  EXPECT_FALSE(PathExists(dir_ / (latin1 + ".keel")));
  MakeDirs(dir_ / "d");
  WriteFile(dir_ / ("d/" + latin1), "inside");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  fs::remove_all(dir_ / "d");
  ASSERT_EQ(Keel({"data", "checkout"}).exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ / ("d/" + latin1)), "inside");
}

TEST_F(DataTest, StatusReportsEachState) {
  WriteFile(dir_ / "a.txt", "a");
  WriteFile(dir_ / "b.txt", "b");
  WriteFile(dir_ / "c.txt", "c");
  WriteFile(dir_ / "d.txt", "d");
  ASSERT_EQ(Keel({"data", "add", "a.txt", "b.txt", "c.txt", "d.txt"}).exit_code, 0);
  WriteFile(dir_ / "b.txt", "changed");
  fs::remove(dir_ / "c.txt");
  std::string d_hash = KeelJson({"data", "status", "d.txt"})[0]["hash"];
  fs::remove(dir_ / "d.txt");
  fs::remove(ObjectPath(d_hash));
  nlohmann::json all = KeelJson({"data", "status"});
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0]["state"], "unchanged");
  EXPECT_EQ(all[1]["state"], "modified");
  EXPECT_EQ(all[2]["state"], "not checked out");
  EXPECT_EQ(all[3]["state"], "missing");
  RunResult human = Keel({"data", "status"});
  EXPECT_NE(human.out.find("not checked out  c.txt"), std::string::npos) << human.out;
}

TEST_F(DataTest, BadPathsAreClearErrors) {
  RunResult missing = Keel({"data", "add", "nope.csv"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("nope.csv: no such file or folder"), std::string::npos) << missing.err;

  RunResult outside = Keel({"data", "add", "../elsewhere.csv"});
  EXPECT_EQ(outside.exit_code, 2);
  EXPECT_NE(outside.err.find("outside the project"), std::string::npos) << outside.err;

  RunResult inside_keel = Keel({"data", "add", ".keel/config"});
  EXPECT_EQ(inside_keel.exit_code, 2);

  MakeDirs(dir_ / "real");
  WriteFile(dir_ / "real/f.txt", "f");
  ASSERT_EQ(::symlink("real", (dir_ / "via-link").c_str()), 0);
  RunResult through_link = Keel({"data", "add", "via-link/f.txt"});
  EXPECT_EQ(through_link.exit_code, 2);
  EXPECT_NE(through_link.err.find("symbolic link"), std::string::npos) << through_link.err;

  RunResult no_pointer = Keel({"data", "checkout", "real/f.txt"});
  EXPECT_EQ(no_pointer.exit_code, 3);
  EXPECT_NE(no_pointer.err.find("no pointer file real/f.txt.keel"), std::string::npos) << no_pointer.err;
  // Nothing was stored by the failures.
  EXPECT_EQ(KeelJson({"gc", "--dry-run"})["kept"], 0);
}

TEST_F(DataTest, HandEditedPointersAreClearErrorsAndLoseNothing) {
  WriteFile(dir_ / "f.txt", "content");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);
  std::string good = ReadFile(dir_ / "f.txt.keel");
  std::string good_hash = KeelJson({"data", "status"})[0]["hash"];

  // Malformed hash: the error names file, line, column and field.
  std::string bad = good;
  bad.replace(bad.find("sha256:") + 7, 4, "zzzz");
  WriteFile(dir_ / "f.txt.keel", bad);
  RunResult r = Keel({"data", "status"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("f.txt.keel:4:7: field 'hash'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a sha256 digest"), std::string::npos) << r.err;
  EXPECT_EQ(Keel({"data", "checkout"}).exit_code, 2);
  EXPECT_EQ(ReadFile(dir_ / "f.txt"), "content");

  // A misspelt key gets a suggestion.
  std::string misspelt = good;
  misspelt.replace(misspelt.find("size:"), 5, "sise:");
  WriteFile(dir_ / "f.txt.keel", misspelt);
  r = Keel({"data", "status"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown key 'sise' (did you mean 'size'?)"), std::string::npos) << r.err;

  // A well-formed hash of something never stored.
  std::string wrong = good;
  wrong.replace(wrong.find("sha256:") + 7, 64, std::string(64, 'a'));
  WriteFile(dir_ / "f.txt.keel", wrong);
  EXPECT_EQ(State("f.txt"), "modified");
  r = Keel({"data", "checkout", "--force"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("is not in the store"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "f.txt"), "content");
  r = Keel({"data", "verify"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.out.find("missing: f.txt.keel names sha256:aaaa"), std::string::npos) << r.out;

  // gc refuses to guess while a pointer is unreadable, and the stored
  // version survives.
  WriteFile(dir_ / "f.txt.keel", "path: [unterminated");
  r = Keel({"gc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("gc stopped"), std::string::npos) << r.err;
  EXPECT_TRUE(PathExists(ObjectPath(good_hash)));
  WriteFile(dir_ / "f.txt.keel", good);
  EXPECT_EQ(State("f.txt"), "unchanged");
}

TEST_F(DataTest, CorruptObjectIsFoundByVerify) {
  WriteFile(dir_ / "f.txt", "original");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);
  std::string hash = KeelJson({"data", "status"})[0]["hash"];
  std::string object = ObjectPath(hash);
  ::chmod(object.c_str(), 0644);
  WriteFile(object, "tampered");
  RunResult r = Keel({"data", "verify"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.out.find("corrupt: object " + hash), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 problems"), std::string::npos) << r.err;
  // Checkout refuses the damaged bytes instead of restoring them.
  fs::remove(dir_ / "f.txt");
  r = Keel({"data", "checkout"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.err.find("is damaged"), std::string::npos) << r.err;
  EXPECT_FALSE(PathExists(dir_ / "f.txt"));
  // With --json, stdout is one document holding the problems.
  r = Keel({"data", "verify", "--json"});
  EXPECT_EQ(r.exit_code, 6);
  nlohmann::json report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["ok"], false);
  EXPECT_EQ(report["problems"].size(), 1u);
}

TEST_F(DataTest, CheckoutRefusesToDropUnstoredChangesUnlessForced) {
  MakeDirs(dir_ / "d");
  WriteFile(dir_ / "d/keep.txt", "v1");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  WriteFile(dir_ / "d/keep.txt", "unsaved work");
  WriteFile(dir_ / "d/extra.txt", "unsaved too");
  RunResult r = Keel({"data", "checkout"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("d/keep.txt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "d/keep.txt"), "unsaved work");
  EXPECT_TRUE(PathExists(dir_ / "d/extra.txt"));
  r = Keel({"data", "checkout", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "d/keep.txt"), "v1");
  EXPECT_FALSE(PathExists(dir_ / "d/extra.txt"));
}

TEST_F(DataTest, AddingInsideATrackedFolderIsRefused) {
  MakeDirs(dir_ / "d/sub");
  WriteFile(dir_ / "d/sub/f.txt", "f");
  ASSERT_EQ(Keel({"data", "add", "d"}).exit_code, 0);
  RunResult r = Keel({"data", "add", "d/sub/f.txt"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("d.keel already tracks"), std::string::npos) << r.err;
}

TEST_F(DataTest, GcKeepsEveryVersionByDefaultAndOnlyTheWorkspaceWithW) {
  WriteFile(dir_ / "f.txt", "v1");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);
  std::string v1 = KeelJson({"data", "status"})[0]["hash"];
  WriteFile(dir_ / "f.txt", "v2");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);

  nlohmann::json kept = KeelJson({"gc"});
  EXPECT_EQ(kept["unreachable"].size(), 0u);
  EXPECT_TRUE(PathExists(ObjectPath(v1)));

  nlohmann::json dry = KeelJson({"gc", "--workspace", "--dry-run"});
  ASSERT_EQ(dry["unreachable"].size(), 1u);
  EXPECT_EQ(dry["unreachable"][0]["hash"], v1);
  EXPECT_TRUE(PathExists(ObjectPath(v1)));  // a dry run deletes nothing

  // keel.lock keeps what it names alive too.
  WriteFile(dir_ / "keel.lock", "stages:\n  s:\n    outs:\n    - path: f.txt\n      hash: " + v1 + "\n");
  EXPECT_EQ(KeelJson({"gc", "--workspace", "--dry-run"})["unreachable"].size(), 0u);
  fs::remove(dir_ / "keel.lock");

  nlohmann::json removed = KeelJson({"gc", "-w"});
  EXPECT_EQ(removed["unreachable"].size(), 1u);
  EXPECT_FALSE(PathExists(ObjectPath(v1)));
  EXPECT_EQ(State("f.txt"), "unchanged");
  EXPECT_EQ(Keel({"data", "verify"}).exit_code, 0);
}

TEST_F(DataTest, ConfiguredHardlinksShareTheInodeAndStayReadOnly) {
  WriteFile(dir_ / ".keel/config", "cache:\n  type: hardlink,copy\n");
  WriteFile(dir_ / "f.txt", "linked");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "f.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  // Checkout replaces the file by rename, never writing through the link.
  WriteFile(dir_ / "f.txt.keel", ReadFile(dir_ / "f.txt.keel"));
  fs::remove(dir_ / "f.txt");
  ASSERT_EQ(Keel({"data", "checkout"}).exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ / "f.txt"), "linked");
}

// An in-place edit after `add` never reaches the stored version: as root the
// default is to copy (read-only bits would not stop root), otherwise the
// hardlinked file is read-only and the edit is refused.
TEST_F(DataTest, InPlaceEditAfterAddNeverChangesTheStoredVersion) {
  WriteFile(dir_ / "f.txt", "v1");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);
  std::string v1 = ReadFile(dir_ / "f.txt.keel");
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "f.txt").c_str(), &st), 0);
  bool root = ::geteuid() == 0;
  EXPECT_EQ(st.st_nlink, root ? 1u : 2u);
  {
    std::ofstream append(dir_ / "f.txt", std::ios::app);
    append << "+more";
    EXPECT_EQ(append.good(), root);
  }
  EXPECT_EQ(Keel({"data", "verify"}).exit_code, 0);
  ::chmod((dir_ / "f.txt").c_str(), 0644);
  fs::remove(dir_ / "f.txt");
  WriteFile(dir_ / "f.txt", "v2");
  ASSERT_EQ(Keel({"data", "add", "f.txt"}).exit_code, 0);
  WriteFile(dir_ / "f.txt.keel", v1);
  ASSERT_EQ(Keel({"data", "checkout"}).exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ / "f.txt"), "v1");
}

TEST_F(DataTest, BadCacheTypeNamesTheConfigLine) {
  WriteFile(dir_ / ".keel/config", "cache:\n  type: reflink,hardlnk\n");
  RunResult r = Keel({"data", "status"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(".keel/config:2:9"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'hardlnk'"), std::string::npos) << r.err;
}

TEST_F(DataTest, JsonOnEveryCommand) {
  WriteFile(dir_ / "f.txt", "x");
  EXPECT_TRUE(KeelJson({"data", "add", "f.txt"}).is_array());
  EXPECT_TRUE(KeelJson({"data", "status"}).is_array());
  EXPECT_TRUE(KeelJson({"data", "checkout"}).is_array());
  EXPECT_EQ(KeelJson({"data", "verify"})["ok"], true);
  EXPECT_TRUE(KeelJson({"gc", "-n"}).is_object());
  RunResult err = Keel({"data", "add", "nope", "--json"});
  EXPECT_EQ(err.exit_code, 3);
  nlohmann::json j = nlohmann::json::parse(err.out);
  EXPECT_EQ(j["code"], "not found");
}

}  // namespace
}  // namespace keel::testing
