// What a run records about the machine and the build it ran on.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace keel {

// keel's version, the OS, compiler, library versions, host name and CPU
// count, by key ("keel", "os", "compiler", "sqlite", "libgit2", "openssl",
// "simdjson", "host", "cpus").
std::map<std::string, std::string> CollectEnvironment(std::string_view keel_version);

// This machine's host name ("" if it cannot be read).
std::string HostName();

}  // namespace keel
