// A libcurl HTTP client for the server tests: one easy handle, so requests
// reuse one keep-alive connection.
#pragma once

#include <string>

namespace keel::testing {

struct HttpResult {
  long status = 0;       // 0: no response (the message is in `error`)
  std::string body;
  std::string content_type;
  std::string error;     // curl's message when the transfer failed
};

class HttpClient {
 public:
  // `base` is "http://127.0.0.1:PORT".
  explicit HttpClient(std::string base);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult Get(const std::string& path);
  HttpResult Post(const std::string& path, const std::string& body);

 private:
  HttpResult Perform(const std::string& path, const std::string* body);

  std::string base_;
  void* curl_;
};

}  // namespace keel::testing
