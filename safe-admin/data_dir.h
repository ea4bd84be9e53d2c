// File-system helpers of safe-admin: is there a database, is a server using it, and durable
// copies of a database directory.
//
// A RocksDB database directory holds a CURRENT file; the process that has it open for writing
// holds an fcntl() write lock on its LOCK file. LockHolder asks the kernel who holds that lock
// (F_GETLK) without taking it, so looking never gets in a starting server's way.
//
// Thread-safety: plain functions over the file system; no shared state.

#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace safe::admin {

// True when dir holds a RocksDB database (a regular file named CURRENT).
bool HoldsDatabase(const std::string& dir);

// The pid of the process holding RocksDB's lock on dir/LOCK, or 0 when no process does (also
// when there is no LOCK file). Only another process is seen: fcntl() locks this process holds
// are invisible to it. IOError when LOCK exists but cannot be opened or asked.
// REQUIRES: this process does not have the database open: closing any descriptor of LOCK drops
// every fcntl() lock the process holds on it (POSIX), RocksDB's included.
Result<pid_t> LockHolder(const std::string& dir);

// True when dir does not exist or is an empty directory; false when it holds anything.
// InvalidArgument when dir exists but is not a directory; IOError when it cannot be listed.
Result<bool> IsMissingOrEmpty(const std::string& dir);

// Copies the file from to the new file to (O_EXCL: to must not exist) with mode, and fsyncs it.
// IOError (with the OS reason) on failure, after which to is removed.
Status CopyFileDurably(const std::string& from, const std::string& to, mode_t mode = 0600);

// Copies the tree under from (directories and regular files; nothing else is allowed) into the
// new directory to, created with mode 0700. Files keep mode 0600. Every file and directory is
// fsynced. InvalidArgument for a symlink or special file inside from; IOError otherwise. On
// failure what was copied stays for the caller to remove.
Status CopyTreeDurably(const std::string& from, const std::string& to);

// fsyncs a directory (after creating, renaming or removing entries in it).
Status SyncDirectory(const std::string& dir);

// Who owns a data directory: what safe-admin creates for it is given to the same user and group.
struct FileOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// The owner of path (a symbolic link is followed). IOError when it cannot be stat'ed.
Result<FileOwner> OwnerOf(const std::string& path);

// Run as root: gives every directory and regular file under top (top included) to owner, with
// mode 0700 (directories) or 0600 (files), whatever the umask was when they were made, so that
// the service a data directory belongs to can open what a command run as root created (issue
// 13). systemd cannot be relied on for that: its recursive chown of a StateDirectory stops at a
// top directory that already has the right owner. Symbolic links below top are not followed
// (each entry is opened with O_NOFOLLOW and changed through its descriptor, so a link swapped in
// meanwhile is never followed); they and other special files are given to owner, not changed
// otherwise. An entry that disappears meanwhile is skipped.
// Not root: changes nothing and returns OK (only root can give a file away; what another user
// creates is its own, and safe-admin's umask 077 keeps it private).
// IOError naming the path on the first entry that cannot be changed.
Status GiveTreeTo(const std::string& top, FileOwner owner);

}  // namespace safe::admin
