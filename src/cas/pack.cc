#include "cas/pack.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/paths.h"

namespace keel {
namespace {

constexpr size_t kEntryBytes = 32 + 8 + 8;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

std::string TempName(const std::string& dir, std::string_view suffix) {
  static std::atomic<uint64_t> counter{0};
  return dir + "/pack-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
         std::string(suffix);
}

}  // namespace

std::string PackPathOf(const std::string& index_path) {
  return index_path.substr(0, index_path.size() - 4) + ".pack";
}

std::string SerializePackIndex(const std::vector<PackEntry>& entries) {
  std::string out(kPackIndexMagic);
  PutU64(&out, entries.size());
  for (const PackEntry& e : entries) {
    out.append(reinterpret_cast<const char*>(e.digest.bytes.data()), 32);
    PutU64(&out, e.offset);
    PutU64(&out, e.size);
  }
  Digest sum = HashBytes(out);
  out.append(reinterpret_cast<const char*>(sum.bytes.data()), 32);
  return out;
}

Result<std::vector<PackEntry>> ParsePackIndex(std::string_view data, std::string_view what) {
  auto corrupt = [&](std::string_view why) {
    return CorruptError(std::string(what) + ": damaged pack index (" + std::string(why) + ")");
  };
  if (data.size() < kPackIndexMagic.size() + 8 + 32 || data.substr(0, 8) != kPackIndexMagic) {
    return corrupt("bad header");
  }
  uint64_t count = GetU64(data.data() + 8);
  if (count > (data.size() - 48) / kEntryBytes || data.size() != 16 + count * kEntryBytes + 32) {
    return corrupt("wrong length for " + std::to_string(count) + " entries");
  }
  std::string_view body = data.substr(0, data.size() - 32);
  Digest sum = HashBytes(body);
  if (std::memcmp(sum.bytes.data(), data.data() + body.size(), 32) != 0) return corrupt("checksum mismatch");
  std::vector<PackEntry> entries(count);
  const char* p = data.data() + 16;
  for (PackEntry& e : entries) {
    std::memcpy(e.digest.bytes.data(), p, 32);
    e.offset = GetU64(p + 32);
    e.size = GetU64(p + 40);
    p += kEntryBytes;
  }
  return entries;
}

PackWriter::~PackWriter() {
  if (published_) return;
  file_.reset();
  if (!pack_temp_.empty()) (void)env_->RemoveFile(pack_temp_);
  if (!index_temp_.empty()) (void)env_->RemoveFile(index_temp_);
}

Status PackWriter::Append(const Digest& digest, std::string_view data) {
  std::lock_guard lock(mu_);
  if (!seen_.insert(digest).second) return Status::Ok();
  if (file_ == nullptr) {
    pack_temp_ = TempName(tmp_dir_, ".pack");
    KEEL_ASSIGN_OR_RETURN(file_, env_->CreateFile(pack_temp_, 0444));
    KEEL_RETURN_IF_ERROR(file_->Append(kPackMagic));
    offset_ = kPackMagic.size();
  }
  KEEL_RETURN_IF_ERROR(file_->Append(data));
  entries_.push_back({digest, offset_, data.size()});
  offset_ += data.size();
  return Status::Ok();
}

Status PackWriter::Seal() {
  if (file_ == nullptr) return Status::Ok();
  KEEL_RETURN_IF_ERROR(file_->Sync());
  KEEL_RETURN_IF_ERROR(file_->Close());
  std::sort(entries_.begin(), entries_.end(),
            [](const PackEntry& a, const PackEntry& b) { return a.digest < b.digest; });
  index_temp_ = TempName(tmp_dir_, ".idx");
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> index, env_->CreateFile(index_temp_, 0444));
  KEEL_RETURN_IF_ERROR(index->Append(SerializePackIndex(entries_)));
  KEEL_RETURN_IF_ERROR(index->Sync());
  return index->Close();
}

Result<std::string> PackWriter::Publish(const std::string& pack_dir) {
  // Named by its content, so that two packs never collide.
  std::string name = "pack-" + HashBytes(SerializePackIndex(entries_)).Hex();
  std::string index_path = JoinPath(pack_dir, name + ".idx");
  KEEL_RETURN_IF_ERROR(env_->Rename(pack_temp_, JoinPath(pack_dir, name + ".pack")));
  KEEL_RETURN_IF_ERROR(env_->Rename(index_temp_, index_path));
  published_ = true;
  return index_path;
}

Status PackSet::LoadLocked() {
  packs_.clear();
  slots_.clear();
  Result<std::vector<DirEntry>> listing = env_->ListDir(pack_dir_);
  if (!listing.ok()) {
    if (listing.status().code() != StatusCode::kNotFound) return listing.status();
    loaded_ = true;
    return Status::Ok();
  }
  std::vector<std::string> indexes;
  for (const DirEntry& e : *listing) {
    if (e.info.type == FileType::kRegular && EndsWith(e.name, ".idx")) indexes.push_back(e.name);
  }
  std::sort(indexes.begin(), indexes.end());
  for (const std::string& name : indexes) {
    std::string path = JoinPath(pack_dir_, name);
    KEEL_ASSIGN_OR_RETURN(std::string data, ReadFileToString(env_, path));
    KEEL_ASSIGN_OR_RETURN(std::vector<PackEntry> entries, ParsePackIndex(data, path));
    uint32_t pack = static_cast<uint32_t>(packs_.size());
    packs_.push_back(PackPathOf(path));
    for (const PackEntry& e : entries) slots_.try_emplace(e.digest, Slot{pack, e.offset, e.size});
  }
  loaded_ = true;
  return Status::Ok();
}

Status PackSet::Reload() {
  std::unique_lock lock(mu_);
  return LoadLocked();
}

Result<std::optional<PackSet::Location>> PackSet::Find(const Digest& digest, bool refresh) {
  {
    std::shared_lock lock(mu_);
    if (loaded_ && !refresh) {
      auto it = slots_.find(digest);
      if (it == slots_.end()) return std::optional<Location>();
      return std::optional<Location>(Location{packs_[it->second.pack], it->second.offset, it->second.size});
    }
  }
  {
    std::unique_lock lock(mu_);
    if (!loaded_ || refresh) KEEL_RETURN_IF_ERROR(LoadLocked());
  }
  return Find(digest, false);
}

Result<std::string> PackSet::Read(const Location& location) {
  ReadableFile* file = nullptr;
  {
    std::lock_guard lock(files_mu_);
    std::unique_ptr<ReadableFile>& slot = files_[location.pack_path];
    if (slot == nullptr) {
      KEEL_ASSIGN_OR_RETURN(slot, env_->OpenForRead(location.pack_path));
    }
    file = slot.get();
  }
  std::string data(location.size, '\0');
  size_t done = 0;
  while (done < data.size()) {
    KEEL_ASSIGN_OR_RETURN(size_t n, file->ReadAt(location.offset + done, data.data() + done, data.size() - done));
    if (n == 0) {
      return CorruptError(location.pack_path + ": truncated pack (object at offset " +
                          std::to_string(location.offset) + " ends past the end of the file)");
    }
    done += n;
  }
  return data;
}

Status PackSet::ForEach(const std::function<Status(const PackEntry&)>& fn) {
  std::vector<PackEntry> all;
  {
    std::unique_lock lock(mu_);
    KEEL_RETURN_IF_ERROR(LoadLocked());
    for (const auto& [digest, slot] : slots_) all.push_back({digest, slot.offset, slot.size});
  }
  for (const PackEntry& entry : all) KEEL_RETURN_IF_ERROR(fn(entry));
  return Status::Ok();
}

Status PackSet::ForEachPack(
    const std::function<Status(const std::string&, const std::vector<PackEntry>&)>& fn) {
  Result<std::vector<DirEntry>> listing = env_->ListDir(pack_dir_);
  if (!listing.ok()) {
    return listing.status().code() == StatusCode::kNotFound ? Status::Ok() : listing.status();
  }
  for (const DirEntry& e : *listing) {
    if (e.info.type != FileType::kRegular || !EndsWith(e.name, ".idx")) continue;
    std::string path = JoinPath(pack_dir_, e.name);
    KEEL_ASSIGN_OR_RETURN(std::string data, ReadFileToString(env_, path));
    KEEL_ASSIGN_OR_RETURN(std::vector<PackEntry> entries, ParsePackIndex(data, path));
    KEEL_RETURN_IF_ERROR(fn(path, entries));
  }
  return Status::Ok();
}

void PackSet::Add(const std::string& index_path, const std::vector<PackEntry>& entries) {
  std::unique_lock lock(mu_);
  if (!loaded_) return;  // the first Find will read it from disk
  uint32_t pack = static_cast<uint32_t>(packs_.size());
  packs_.push_back(PackPathOf(index_path));
  for (const PackEntry& e : entries) slots_.try_emplace(e.digest, Slot{pack, e.offset, e.size});
}

}  // namespace keel
