// Runs `keel serve` for a test: on a free port of 127.0.0.1, reading its
// output to know when it listens and when it is ready.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace keel::testing {

class KeelServer {
 public:
  // Starts `keel serve --port 0 ARGS...` in `cwd` and waits until it prints
  // that it listens. Check ok() before use.
  KeelServer(const std::string& cwd, const std::vector<std::string>& args);
  // SIGKILL if still running; a test failure if the server's stderr holds a
  // sanitizer report.
  ~KeelServer();
  KeelServer(const KeelServer&) = delete;
  KeelServer& operator=(const KeelServer&) = delete;

  bool ok() const { return port_ != 0; }
  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Reads stdout until a whole line containing `text`; false at end of output.
  bool WaitForOutput(const std::string& text);
  // Reads stderr until a whole line containing `text`; false at end of output.
  bool WaitForError(const std::string& text);
  void Signal(int signal);
  // Waits for the process to end; its exit code (128 + signal if killed).
  int Wait();
  const std::string& output() const { return out_; }
  const std::string& errors() const { return err_; }

 private:
  bool ReadUntil(int fd, std::string* sink, size_t* seen, const std::string& text);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  int port_ = 0;
  std::string out_;
  std::string err_;
  size_t out_seen_ = 0;
  size_t err_seen_ = 0;
};

}  // namespace keel::testing
