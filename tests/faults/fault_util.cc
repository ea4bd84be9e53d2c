#include "tests/faults/fault_util.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cstring>

namespace safe::testing {

PutHistory::Ticket PutHistory::Begin(const std::string& id, std::string blob) {
  std::lock_guard<std::mutex> lock(mu_);
  Put put;
  put.id = id;
  put.blob = std::make_shared<const std::string>(std::move(blob));
  put.start = ++clock_;
  Ticket ticket = puts_.size();
  puts_.push_back(std::move(put));
  auto [it, inserted] = by_id_.try_emplace(id);
  if (inserted) ids_.push_back(id);
  it->second.push_back(ticket);
  return ticket;
}

void PutHistory::Acknowledge(Ticket ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  Put& put = puts_.at(ticket);
  put.end = ++clock_;
  put.state = State::kAcknowledged;
  ++acknowledged_;
}

void PutHistory::Refuse(Ticket ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  Put& put = puts_.at(ticket);
  put.end = ++clock_;
  put.state = State::kRefused;
}

void PutHistory::Abandon(Ticket ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  Put& put = puts_.at(ticket);
  put.state = State::kAbandoned;  // its end comes with ServerStopped()
  ++abandoned_;
}

void PutHistory::ServerStopped() {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t now = ++clock_;
  for (Put& put : puts_) {
    if (put.end == kNotEnded) put.end = now;
  }
}

std::vector<std::string> PutHistory::Ids() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ids_;
}

size_t PutHistory::acknowledged() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acknowledged_;
}

size_t PutHistory::abandoned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return abandoned_;
}

::testing::AssertionResult PutHistory::Check(const std::string& id,
                                             const std::optional<std::string>& stored) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  const std::vector<Ticket> no_puts;
  const std::vector<Ticket>& tickets = it == by_id_.end() ? no_puts : it->second;

  // The latest start among acknowledged puts: a put that ended before it was overwritten.
  uint64_t last_acknowledged_start = 0;
  size_t acknowledged = 0, written = 0;
  for (Ticket t : tickets) {
    const Put& put = puts_[t];
    if (put.state == State::kRefused) continue;
    ++written;
    if (put.state == State::kAcknowledged) {
      ++acknowledged;
      last_acknowledged_start = std::max(last_acknowledged_start, put.start);
    }
  }
  const std::string what = "backup " + id.substr(0, 12) + "...";
  if (!stored.has_value()) {
    if (acknowledged == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << " is missing (404) although " << acknowledged
                                         << " put(s) to it were acknowledged";
  }
  bool matched = false;
  for (Ticket t : tickets) {
    const Put& put = puts_[t];
    if (put.state == State::kRefused || *put.blob != *stored) continue;
    matched = true;
    if (put.end > last_acknowledged_start) return ::testing::AssertionSuccess();
  }
  if (matched) {
    return ::testing::AssertionFailure()
           << what << " holds a stale blob: a put sent after that blob's put had ended was "
           << "acknowledged, so an acknowledged put was lost";
  }
  return ::testing::AssertionFailure()
         << what << " holds " << stored->size() << " bytes that match none of the " << written
         << " blob(s) put to it (torn, mixed or foreign)";
}

TmpfsMount::TmpfsMount(uint64_t size_bytes) {
  const std::string options = "size=" + std::to_string(size_bytes) + ",mode=0700";
  if (mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    error_ = std::string("mount -t tmpfs failed: ") + std::strerror(errno);
    return;
  }
  mounted_ = true;
}

TmpfsMount::~TmpfsMount() {
  if (!mounted_) return;
  if (umount2(dir_.path().c_str(), 0) != 0 && errno == EBUSY) {
    // Something still holds a file open on it (a server that was not stopped): detach now, the
    // kernel frees it once the last file is closed.
    umount2(dir_.path().c_str(), MNT_DETACH);
  }
}

uint64_t TmpfsMount::FreeBytes() const {
  struct statvfs st;
  if (statvfs(dir_.path().c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace safe::testing
