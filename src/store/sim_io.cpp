#include "store/sim_io.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace warren::store {

class SimFile final : public File {
 public:
  SimFile(SimIo& io, SimIo::NodePtr node, bool writable) : io_(io), node_(std::move(node)), writable_(writable) {}

  int write_at(std::span<const uint8_t> data, uint64_t offset, size_t& written) override {
    written = 0;
    if (!writable_) return EBADF;
    if (int err = io_.take_fault(SimIo::Op::Write)) return err;
    size_t n = data.size();
    if (io_.short_writes_ && n > 1) n = 1 + size_t(io_.rng_() % n);
    const uint64_t end = offset + n;
    const uint64_t grows = end > node_->data.size() ? end - node_->data.size() : 0;
    if (io_.used() + grows > io_.capacity_) return ENOSPC;
    if (node_->data.size() < end) node_->data.resize(size_t(end), '\0');
    if (n) std::memcpy(node_->data.data() + offset, data.data(), n);  // (an empty span's data() may be null)
    written = n;
    return 0;
  }
  // A gathered write is one write: one fault, a short write anywhere in it.
  int write_parts_at(std::span<const std::span<const uint8_t>> parts, uint64_t offset, size_t& written) override {
    std::vector<uint8_t> all;
    for (std::span<const uint8_t> p : parts) all.insert(all.end(), p.begin(), p.end());
    return write_at(all, offset, written);
  }
  int read_at(std::span<uint8_t> out, uint64_t offset, size_t& got) override {
    got = 0;
    if (offset >= node_->data.size()) return 0;
    got = std::min<size_t>(out.size(), node_->data.size() - size_t(offset));
    if (got) std::memcpy(out.data(), node_->data.data() + offset, got);  // (an empty span's data() may be null)
    return 0;
  }
  int sync() override {
    if (int err = io_.take_fault(SimIo::Op::Sync)) {
      node_->poisoned = true;
      return err;
    }
    if (!node_->poisoned) node_->synced = node_->data;
    return 0;
  }
  int truncate(uint64_t size) override {
    if (!writable_) return EBADF;
    node_->data.resize(size_t(size), '\0');
    return 0;
  }
  int size(uint64_t& out) override {
    out = node_->data.size();
    return 0;
  }

 private:
  SimIo& io_;
  SimIo::NodePtr node_;
  bool writable_;
};

namespace {
class SimLock final : public File {
 public:
  SimLock(std::set<std::string>& locked, std::string path) : locked_(locked), path_(std::move(path)) {}
  ~SimLock() override { locked_.erase(path_); }
  int write_at(std::span<const uint8_t>, uint64_t, size_t& w) override { return w = 0, EBADF; }
  int read_at(std::span<uint8_t>, uint64_t, size_t& g) override { return g = 0, 0; }
  int sync() override { return 0; }
  int truncate(uint64_t) override { return EBADF; }
  int size(uint64_t& out) override { return out = 0, 0; }

 private:
  std::set<std::string>& locked_;
  std::string path_;
};
}  // namespace

void SimIo::fail(Op op, int err, int times) { faults_[op] = {err, times}; }

int SimIo::take_fault(Op op) {
  auto it = faults_.find(op);
  if (it == faults_.end() || it->second.second <= 0) return 0;
  --it->second.second;
  return it->second.first;
}

uint64_t SimIo::used() const {
  uint64_t n = 0;
  for (const auto& [_, node] : files_) n += node->data.size();
  return n;
}

std::string SimIo::parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

void SimIo::power_loss() {
  files_ = durable_;
  for (auto& [_, node] : files_) {
    Node& n = *node;
    // A torn write: the synced bytes, and some of what was appended after.
    const bool appended = n.data.size() > n.synced.size() && n.data.compare(0, n.synced.size(), n.synced) == 0;
    std::string kept = n.synced;
    if (appended && !n.poisoned) {
      const size_t extra = n.data.size() - n.synced.size();
      kept.append(n.data, n.synced.size(), size_t(rng_() % (extra + 1)));
    }
    n.data = kept;
    n.synced = std::move(kept);
    n.poisoned = false;
  }
  locked_.clear();
}

std::string SimIo::contents(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? std::string() : it->second->data;
}

void SimIo::set_contents(const std::string& path, std::string bytes) {
  NodePtr& node = files_[path];
  if (!node) node = std::make_shared<Node>();
  node->data = bytes;
  node->synced = std::move(bytes);
  durable_[path] = node;
}

void SimIo::copy_dir(const std::string& dir, SimIo& to, bool (*keep)(const std::string& name)) const {
  const std::string prefix = dir + "/";
  for (const auto& [path, node] : files_)
    if (path.compare(0, prefix.size(), prefix) == 0 && path.find('/', prefix.size()) == std::string::npos &&
        (!keep || keep(path.substr(prefix.size()))))
      to.set_contents(path, node->data);
}

int SimIo::open(const std::string& path, OpenMode mode, std::unique_ptr<File>& out) {
  if (int err = take_fault(Op::Open)) return err;
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (mode != OpenMode::Create) return ENOENT;
    if (!dirs_.count(parent(path))) return ENOENT;
    it = files_.emplace(path, std::make_shared<Node>()).first;
  }
  out = std::make_unique<SimFile>(*this, it->second, mode != OpenMode::Read);
  return 0;
}

int SimIo::list(const std::string& dir, std::vector<std::string>& names) {
  names.clear();
  if (!dirs_.count(dir)) return ENOENT;
  const std::string prefix = dir + "/";
  for (const auto& [path, _] : files_)
    if (path.compare(0, prefix.size(), prefix) == 0 && path.find('/', prefix.size()) == std::string::npos)
      names.push_back(path.substr(prefix.size()));
  return 0;
}

// Directories are durable at once: the store makes its few at startup.
int SimIo::make_dir(const std::string& path) {
  dirs_.insert(path);
  return 0;
}

int SimIo::remove(const std::string& path) {
  if (int err = take_fault(Op::Remove)) return err;
  return files_.erase(path) ? 0 : ENOENT;
}

int SimIo::rename(const std::string& from, const std::string& to) {
  if (int err = take_fault(Op::Rename)) return err;
  auto it = files_.find(from);
  if (it == files_.end()) return ENOENT;
  NodePtr node = it->second;
  files_.erase(it);
  files_[to] = std::move(node);
  return 0;
}

int SimIo::sync_dir(const std::string& dir) {
  if (int err = take_fault(Op::SyncDir)) return err;
  auto in_dir = [&](const std::string& path) { return parent(path) == dir; };
  std::erase_if(durable_, [&](const auto& kv) { return in_dir(kv.first); });
  for (const auto& [path, node] : files_)
    if (in_dir(path)) durable_[path] = node;
  return 0;
}

int SimIo::free_bytes(const std::string&, uint64_t& out) {
  out = capacity_ == UINT64_MAX ? UINT64_MAX : capacity_ - std::min(capacity_, used());
  return 0;
}

int SimIo::lock(const std::string& path, std::unique_ptr<File>& holder) {
  if (!locked_.insert(path).second) return EWOULDBLOCK;
  holder = std::make_unique<SimLock>(locked_, path);
  return 0;
}

}  // namespace warren::store
