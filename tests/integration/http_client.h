// A libcurl HTTP client for the server tests: one easy handle, so requests
// reuse one keep-alive connection.
#pragma once

#include <string>

namespace keel::testing {

struct HttpResult {
  long status = 0;       // 0: no response (the message is in `error`)
  std::string body;
  std::string content_type;
  std::string headers;   // the response's header lines, as received
  long new_connections = 0;  // connections opened for this request (0: one was reused)
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
  HttpResult Request(const std::string& method, const std::string& path);

  // Speak HTTP/1.0, asking for keep-alive (as ApacheBench's -k does).
  void UseHttp10KeepAlive();

 private:
  HttpResult Perform(const std::string& path, const std::string* body, const char* method = nullptr);

  std::string base_;
  bool http10_ = false;
  void* curl_;
};

}  // namespace keel::testing
