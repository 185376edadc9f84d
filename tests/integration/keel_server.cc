#include "keel_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <gtest/gtest.h>

namespace keel::testing {

KeelServer::KeelServer(const std::string& cwd, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {KEEL_BINARY, "serve", "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> cargs;
    for (std::string& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  const std::string marker = "listening on http://127.0.0.1:";
  if (!WaitForOutput(marker)) return;
  port_ = std::stoi(out_.substr(out_.find(marker) + marker.size()));
}

KeelServer::~KeelServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait();
  }
  // Under scripts/test's sanitizer builds the server reports what it finds
  // on stderr; whatever the test checked, that is a failure.
  EXPECT_EQ(err_.find("Sanitizer"), std::string::npos) << err_;
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

bool KeelServer::ReadUntil(int fd, std::string* sink, size_t* seen, const std::string& text) {
  for (;;) {
    const size_t at = sink->find(text, *seen);
    const size_t end = at == std::string::npos ? at : sink->find('\n', at);
    if (end != std::string::npos) {  // the whole line is in
      *seen = end + 1;
      return true;
    }
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sink->append(buf, static_cast<size_t>(n));
  }
}

bool KeelServer::WaitForOutput(const std::string& text) { return ReadUntil(out_fd_, &out_, &out_seen_, text); }
bool KeelServer::WaitForError(const std::string& text) { return ReadUntil(err_fd_, &err_, &err_seen_, text); }

void KeelServer::Signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int KeelServer::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  pid_ = -1;
  // Whatever is left of the output, for failure messages.
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out_fd_, buf, sizeof buf)) > 0) out_.append(buf, static_cast<size_t>(n));
  while ((n = ::read(err_fd_, buf, sizeof buf)) > 0) err_.append(buf, static_cast<size_t>(n));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace keel::testing
