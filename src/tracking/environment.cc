#include "tracking/environment.h"

#include <simdjson.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <thread>

#include "core/git.h"
#include "core/hash.h"
#include "store/run_store.h"

namespace keel {

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

std::map<std::string, std::string> CollectEnvironment(std::string_view keel_version) {
  std::map<std::string, std::string> env;
  env["keel"] = std::string(keel_version);
  struct utsname uts;
  if (::uname(&uts) == 0) env["os"] = std::string(uts.sysname) + " " + uts.release + " " + uts.machine;
#if defined(__clang__)
  env["compiler"] = "clang " __clang_version__;
#elif defined(__GNUC__)
  env["compiler"] = "gcc " __VERSION__;
#endif
  env["sqlite"] = SqliteLibraryVersion();
  env["libgit2"] = GitLibraryVersion();
  env["openssl"] = CryptoLibraryVersion();
  env["simdjson"] = std::to_string(simdjson::SIMDJSON_VERSION_MAJOR) + "." +
                    std::to_string(simdjson::SIMDJSON_VERSION_MINOR) + "." +
                    std::to_string(simdjson::SIMDJSON_VERSION_REVISION);
  env["host"] = HostName();
  env["cpus"] = std::to_string(std::thread::hardware_concurrency());
  return env;
}

}  // namespace keel
