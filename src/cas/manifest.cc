#include "cas/manifest.h"

#include <algorithm>
#include <charconv>

namespace keel {
namespace {


std::string EscapePath(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool UnescapePath(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      *out += in[i];
      continue;
    }
    if (++i == in.size()) return false;
    if (in[i] == '\\') {
      *out += '\\';
    } else if (in[i] == 'n') {
      *out += '\n';
    } else {
      return false;
    }
  }
  return true;
}

bool ParseMode(std::string_view text, EntryMode* mode) {
  if (text == "100644") *mode = EntryMode::kFile;
  else if (text == "100755") *mode = EntryMode::kExecutable;
  else if (text == "120000") *mode = EntryMode::kSymlink;
  else if (text == "040000") *mode = EntryMode::kEmptyDir;
  else return false;
  return true;
}

std::string_view ModeText(EntryMode mode) {
  switch (mode) {
    case EntryMode::kFile: return "100644";
    case EntryMode::kExecutable: return "100755";
    case EntryMode::kSymlink: return "120000";
    case EntryMode::kEmptyDir: return "040000";
  }
  return "100644";
}

// Splits off the text up to the next space.
std::string_view NextField(std::string_view* line) {
  size_t space = line->find(' ');
  std::string_view field = line->substr(0, space);
  line->remove_prefix(space == std::string_view::npos ? line->size() : space + 1);
  return field;
}

bool ValidPath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != part.npos) return false;
    i = j + 1;
  }
  return true;
}

}  // namespace

Manifest::Manifest(std::vector<ManifestEntry> entries) : entries_(std::move(entries)) {
  std::sort(entries_.begin(), entries_.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
}

uint64_t Manifest::TotalSize() const {
  uint64_t total = 0;
  for (const ManifestEntry& e : entries_) total += e.size;
  return total;
}

uint64_t Manifest::FileCount() const {
  return static_cast<uint64_t>(std::count_if(entries_.begin(), entries_.end(), [](const auto& e) {
    return e.mode != EntryMode::kEmptyDir;
  }));
}

const ManifestEntry* Manifest::Find(std::string_view path) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), path,
                             [](const ManifestEntry& e, std::string_view p) { return e.path < p; });
  return it != entries_.end() && it->path == path ? &*it : nullptr;
}

std::string Manifest::Serialize() const {
  std::string out(kManifestHeader);
  out.reserve(entries_.size() * 100);
  for (const ManifestEntry& e : entries_) {
    out += ModeText(e.mode);
    out += ' ';
    out += std::to_string(e.size);
    out += ' ';
    out += e.mode == EntryMode::kEmptyDir ? std::string("-") : e.digest.Hex();
    out += ' ';
    out += EscapePath(e.path);
    out += '\n';
  }
  return out;
}

Result<Manifest> Manifest::Parse(std::string_view text, std::string_view what) {
  if (text.substr(0, kManifestHeader.size()) != kManifestHeader) {
    return CorruptError(std::string(what) + ": not a keel manifest (missing 'keel-manifest 1' header)");
  }
  text.remove_prefix(kManifestHeader.size());
  std::vector<ManifestEntry> entries;
  size_t line_no = 1;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      return CorruptError(std::string(what) + ":" + std::to_string(line_no) + ": line not terminated");
    }
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    auto bad = [&](std::string_view why) {
      return CorruptError(std::string(what) + ":" + std::to_string(line_no) + ": " + std::string(why));
    };
    ManifestEntry entry;
    if (!ParseMode(NextField(&line), &entry.mode)) return bad("unknown entry mode");
    std::string_view size = NextField(&line);
    auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), entry.size);
    if (ec != std::errc() || ptr != size.data() + size.size()) return bad("bad size");
    std::string_view hex = NextField(&line);
    if (entry.mode == EntryMode::kEmptyDir) {
      if (hex != "-") return bad("an empty folder has no digest");
    } else {
      Result<Digest> digest = Digest::Parse(hex, what);
      if (!digest.ok()) return bad("bad digest");
      entry.digest = *digest;
    }
    if (!UnescapePath(line, &entry.path) || !ValidPath(entry.path)) {
      return bad("bad path '" + std::string(line) + "'");
    }
    if (!entries.empty() && !(entries.back().path < entry.path)) {
      return bad("entries not sorted or repeated at '" + entry.path + "'");
    }
    entries.push_back(std::move(entry));
  }
  Manifest manifest;
  manifest.entries_ = std::move(entries);
  return manifest;
}

}  // namespace keel
