#include "server/definitions_file.hpp"

#include <cerrno>
#include <filesystem>
#include <span>
#include <system_error>

namespace warren::server {

std::optional<std::string> DefinitionsFile::read() const {
  std::unique_ptr<store::File> f;
  if (int err = io_.open(path_, store::OpenMode::Read, f)) {
    if (err == ENOENT) return std::nullopt;
    throw std::system_error(err, std::generic_category(), "open " + path_);
  }
  uint64_t size = 0;
  std::string text;
  int err = f->size(size);
  if (!err) {
    text.resize(size);
    size_t got = 0;
    err = f->read_at(std::span(reinterpret_cast<uint8_t*>(text.data()), text.size()), 0, got);
    if (!err && got != size) err = EIO;
  }
  if (err) throw std::system_error(err, std::generic_category(), "read " + path_);
  return text;
}

int DefinitionsFile::write(const std::string& text, uint64_t version) {
  std::lock_guard lock(mu_);
  if (version != 0 && version <= written_) return 0;
  const std::string tmp = path_ + ".tmp";
  std::unique_ptr<store::File> f;
  if (int err = io_.open(tmp, store::OpenMode::Create, f)) return err;
  if (int err = f->truncate(0)) return err;
  if (int err = store::write_all(*f, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0))
    return err;
  if (int err = f->sync()) return err;
  f.reset();
  if (int err = io_.rename(tmp, path_)) return err;
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (int err = io_.sync_dir(dir.empty() ? "." : dir)) return err;
  written_ = std::max(written_, version);
  return 0;
}

}  // namespace warren::server
