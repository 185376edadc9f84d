// Runs `keel serve` for a test: on a free port of 127.0.0.1, reading its
// output to know when it listens and when it is ready. A thread reads the
// server's stdout and stderr all along, so a server that writes much (a
// sanitizer's reports) never blocks on a full pipe.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
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

  // Waits for a whole line of stdout, after the last one found, that
  // contains `text`; false if the output ends first.
  bool WaitForOutput(const std::string& text);
  // The same for stderr.
  bool WaitForError(const std::string& text);
  void Signal(int signal);
  // Waits for the process to end; its exit code (128 + signal if killed).
  int Wait();
  // What the server has printed so far.
  std::string output() const;
  std::string errors() const;

 private:
  struct Stream {
    int fd = -1;
    std::string text;  // guarded by mu_
    bool ended = false;  // guarded by mu_
    size_t seen = 0;   // where the next WaitFor starts looking
  };
  void ReadLoop();
  bool WaitFor(Stream* stream, const std::string& text);

  pid_t pid_ = -1;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable grew_;
  Stream out_;
  Stream err_;
  std::thread reader_;
};

}  // namespace keel::testing
