"""lossyfs on its own: after a power loss exactly what was made durable
is there. Each case uses its own names, then one power loss checks all."""
import ctypes
import errno
import mmap
import os

from lossyfs_mount import Mount, check

m = Mount()
root = m.path


def p(*parts):
    return os.path.join(root, *parts)


def write(path, data, sync=False, datasync=False, flags=os.O_TRUNC):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    if datasync:
        os.fdatasync(fd)
    os.close(fd)


def dirsync(path=root):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# Before the power loss.
write(p("written_only"), b"lost")                     # name durable below, data never
write(p("synced"), b"kept", sync=True)
write(p("datasynced"), b"kept too", datasync=True)
write(p("appended"), b"first", sync=True)
write(p("truncated"), b"0123456789", sync=True)
write(p("replaced"), b"old", sync=True)
write(p("replaced_synced"), b"old", sync=True)
write(p("unlinked"), b"still here", sync=True)
write(p("unlinked_synced"), b"gone", sync=True)
os.mkdir(p("sub_synced"))
write(p("sub_synced", "f"), b"in sub", sync=True)
dirsync(p("sub_synced"))
dirsync()                                            # all of the above: names durable

# Made durable by a directory fsync.
write(p("tmp2"), b"new", sync=True)
os.rename(p("tmp2"), p("replaced_synced"))
os.unlink(p("unlinked_synced"))
os.mkdir(p("sub_moved"))
write(p("sub_moved", "f"), b"y", sync=True)
dirsync(p("sub_moved"))
dirsync()

# Never made durable: no directory fsync after these.
write(p("appended"), b"+second", flags=os.O_APPEND)  # data not synced
os.truncate(p("truncated"), 3)                        # size not synced
write(p("file_synced_dir_not"), b"x", sync=True)      # data synced, name not
write(p("tmp"), b"new", sync=True)
os.rename(p("tmp"), p("replaced"))
os.unlink(p("unlinked"))
os.rename(p("sub_moved"), p("sub_renamed"))

# Reading through a map works (the store maps its segments).
with open(p("synced"), "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
    check(mm[:] == b"kept", "mmap reads a file's contents")

# fallocate is refused as FUSE filesystems commonly do (the store falls back).
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
fd = os.open(p("synced"), os.O_WRONLY)
rc = libc.fallocate(fd, 0, 0, 1 << 20)
os.close(fd)
check(rc == -1 and ctypes.get_errno() == errno.EOPNOTSUPP, "fallocate answers EOPNOTSUPP")

before = m.stats()
check(before["file_syncs"] >= 13 and before["dir_syncs"] >= 4,
      "fsync and fdatasync of files and directories reach lossyfs (%s)" % before)

m.power_loss()

names = sorted(os.listdir(root))
check(names == sorted(["written_only", "synced", "datasynced", "appended", "truncated", "replaced",
                       "replaced_synced", "unlinked", "sub_synced", "sub_moved"]),
      "exactly the durable names are left: %s" % names)
check(read(p("written_only")) == b"", "a file never fsynced is empty (its name was durable)")
check(read(p("synced")) == b"kept", "fsynced contents are kept")
check(read(p("datasynced")) == b"kept too", "fdatasynced contents are kept")
check(read(p("appended")) == b"first", "an append after the last fsync is lost")
check(read(p("truncated")) == b"0123456789", "a truncate after the last fsync is undone")
check(read(p("replaced")) == b"old", "a rename over a file without a directory fsync is undone")
check(read(p("replaced_synced")) == b"new", "a rename followed by a directory fsync is kept")
check(read(p("unlinked")) == b"still here", "an unlink without a directory fsync is undone")
check(not os.path.exists(p("unlinked_synced")), "an unlink followed by a directory fsync is kept")
check(os.listdir(p("sub_synced")) == ["f"] and read(p("sub_synced", "f")) == b"in sub",
      "a synced subdirectory keeps its synced file")
check(os.listdir(p("sub_moved")) == ["f"] and read(p("sub_moved", "f")) == b"y",
      "a directory renamed without a directory fsync is back under its durable name")
check(not os.path.exists(p("file_synced_dir_not")),
      "a file fsynced whose directory was not fsynced is gone")

# After the "reboot" everything there is durable: a second loss changes nothing.
m.power_loss()
check(sorted(os.listdir(root)) == names and read(p("appended")) == b"first",
      "a second power loss with nothing written changes nothing")
write(p("after"), b"z")
m.power_loss()
check(not os.path.exists(p("after")), "what is written after a power loss can be lost again")
write(p("after"), b"z")
m.sync_all()
m.power_loss()
check(read(p("after")) == b"z", "\"sync\" makes everything durable")
check(m.stats()["power_losses"] == 4, "the control file counts power losses")
m.close()
print("PASS")
