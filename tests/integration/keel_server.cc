#include "keel_server.h"

#include <fcntl.h>
#include <poll.h>
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
  out_.fd = out[0];
  err_.fd = err[0];
  reader_ = std::thread([this] { ReadLoop(); });
  const std::string marker = "listening on http://127.0.0.1:";
  if (!WaitForOutput(marker)) return;
  const std::string text = output();
  port_ = std::stoi(text.substr(text.find(marker) + marker.size()));
}

KeelServer::~KeelServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait();
  }
  if (reader_.joinable()) reader_.join();
  // Under scripts/test's sanitizer builds the server reports what it finds
  // on stderr; whatever the test checked, that is a failure.
  EXPECT_EQ(err_.text.find("Sanitizer"), std::string::npos) << err_.text;
  if (out_.fd >= 0) ::close(out_.fd);
  if (err_.fd >= 0) ::close(err_.fd);
}

void KeelServer::ReadLoop() {
  pollfd fds[2] = {{out_.fd, POLLIN, 0}, {err_.fd, POLLIN, 0}};
  Stream* streams[2] = {&out_, &err_};
  int open = 2;
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (n > 0) {
        streams[i]->text.append(buf, static_cast<size_t>(n));
      } else {
        streams[i]->ended = true;
        fds[i].fd = -1;  // poll skips it from now on
        --open;
      }
      grew_.notify_all();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  out_.ended = err_.ended = true;
  grew_.notify_all();
}

bool KeelServer::WaitFor(Stream* stream, const std::string& text) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    const size_t at = stream->text.find(text, stream->seen);
    const size_t end = at == std::string::npos ? at : stream->text.find('\n', at);
    if (end != std::string::npos) {  // the whole line is in
      stream->seen = end + 1;
      return true;
    }
    if (stream->ended) return false;
    grew_.wait(lock);
  }
}

bool KeelServer::WaitForOutput(const std::string& text) { return WaitFor(&out_, text); }
bool KeelServer::WaitForError(const std::string& text) { return WaitFor(&err_, text); }

std::string KeelServer::output() const {
  std::lock_guard<std::mutex> lock(mu_);
  return out_.text;
}

std::string KeelServer::errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return err_.text;
}

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
  // The pipes end with the process: all its output is read.
  if (reader_.joinable()) reader_.join();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace keel::testing
