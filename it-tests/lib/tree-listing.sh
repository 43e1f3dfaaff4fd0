#!/bin/bash
# tree-listing.sh DIR: what a mounted tree shows, through tools independent of this project, as
# NUL-terminated records in name order: each entry's path, type, mode, links, owner, size, times
# (ns) and symlink target; device numbers; every entry's xattrs (getfattr, hex); every regular
# file's sha256; and "ino PATH" for files with more than one name (the caller groups by ino).
# Run by a user who cannot enter or read everything, the tools' complaints go to standard
# error and the listing goes on: both mounts refuse that user alike.
set -u
cd "$1" || exit 1
printf '== entries\0'
find . -printf '%p %y %m %n %U %G %s %T@ %A@ %C@ %l\0' | sort -z
printf '== devices\0'
find . \( -type c -o -type b \) -print0 | sort -z | xargs -0 -r stat --printf '%n %t:%T\0'
printf '== xattrs\0'
find . -print0 | sort -z | xargs -0 getfattr -h -d -m - -e hex --absolute-names 2>/dev/null | tr '\n' '\0'
printf '== contents\0'
find . -type f -readable -print0 | sort -z | xargs -0 -r sha256sum -z
printf '== inodes\0'
find . -type f -links +1 -printf '%i %p\0' | sort -z
