// Runs the real keel binary in temporary project folders.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace keel::testing {

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Runs `keel args...` in `cwd` and waits for it.
RunResult RunKeel(const std::string& cwd, const std::vector<std::string>& args);
// Runs `keel args...` and parses stdout as JSON (fails the test if it is not).
nlohmann::json RunKeelJson(const std::string& cwd, const std::vector<std::string>& args);
// Runs any program; argv[0] is looked up in PATH.
RunResult RunProgram(const std::string& cwd, const std::vector<std::string>& argv);

// Starts keel without waiting; stdout and stderr go to /dev/null.
pid_t StartKeel(const std::string& cwd, const std::vector<std::string>& args);
// Waits for a child started by StartKeel; returns its exit code (128 + signal).
int WaitFor(pid_t pid);

// Small file helpers that fail the current test on error.
void WriteFile(const std::string& path, const std::string& data);
std::string ReadFile(const std::string& path);
bool PathExists(const std::string& path);  // lstat: a dangling link exists
void MakeDirs(const std::string& path);
std::string Sha256OfFile(const std::string& path);
// Path of a file shipped in the source tree, e.g. "examples/…".
std::string SourcePath(const std::string& rel);

}  // namespace keel::testing
