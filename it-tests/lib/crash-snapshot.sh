#!/bin/bash
# crash-snapshot.sh WORK TREE CASE [MKCOMPOSEFS]: what a store would hold after a power cut.
# A fresh ext4 (a loop-mounted file under WORK, journal committed every second) receives a cold
# ingest of TREE; then, without any flush, the block device's content is copied as it is: what
# the filesystem has written so far, not what still sits in the page cache. That copy is
# checked (e2fsck replays the journal) and mounted read-only, and every object named in it is
# measured with fsverity-utils. CASE:
#   syncfs     the ingest is killed as it asks for its flush (strace fault injection)
#   rename:N   killed at each rename thread's Nth rename (after the flush)
#   done       runs to the end; the copy is taken as it exits
#   control    no ingest: files written and renamed into place with no flush between, the
#              pattern the store avoids, to show that this copy loses unflushed data
# Prints one line: "named=N bad=B image=same|differs|absent|-", bad counting named objects whose
# content's digest is not their name (control: files whose content is not what was written).
set -euo pipefail
work=$1 tree=$2 case=$3 mk=${4:-}
fs=$work/fs.img snap=$work/snap.img mnt=$work/mnt view=$work/view
mkdir -p "$mnt" "$view"
cleanup() {
    umount -q "$view" 2>/dev/null || true
    umount -q "$mnt" 2>/dev/null || true
    rm -f "$fs" "$snap"
}
trap cleanup EXIT
rm -f "$fs" "$snap"
truncate -s 1G "$fs"
mkfs.ext4 -q -F "$fs"
mount -o loop,commit=1 "$fs" "$mnt"
image=-
case $case in
    control)
        mkdir "$mnt/d"
        for i in $(seq 200); do
            head -c $((1000 + i)) /dev/zero | tr '\0' x > "$mnt/d/.t$i"
            mv "$mnt/d/.t$i" "$mnt/d/f$i"
        done
        ;;
    done)
        "$mk" --digest-store="$mnt/store" "$tree" "$mnt/image.cfs" 2>/dev/null
        ;;
    syncfs | rename:*)
        if [ "$case" = syncfs ]; then inject=syncfs:signal=KILL; else inject=renameat2:signal=KILL:when=${case#rename:}; fi
        # no --seccomp-bpf: strace 6.1 then counts invocations wrongly and never injects at N > 1
        rc=0
        strace -f -qq -o /dev/null -e trace="${inject%%:*}" -e inject="$inject" \
            "$mk" --threads=2 --digest-store="$mnt/store" "$tree" "$mnt/image.cfs" 2>/dev/null || rc=$?
        [ "$rc" = 137 ] || { echo "crash-snapshot.sh: the ingest was not killed ($case, exit $rc)" >&2; exit 1; }
        ;;
    *) echo "crash-snapshot.sh: unknown case $case" >&2; exit 1 ;;
esac
sleep 2 # two journal commits: every rename made so far is in the journal, unflushed data is not
cp --sparse=always "$fs" "$snap"
[ -e "$mnt/image.cfs" ] && cp "$mnt/image.cfs" "$work/written.cfs"
umount "$mnt"
e2fsck -fy "$snap" >/dev/null 2>&1 || [ $? -le 1 ] # 1: errors corrected (the replayed journal)
mount -o loop,ro "$snap" "$view"
if [ "$case" = control ]; then
    named=$(find "$view/d" -type f ! -name '.*' | wc -l)
    bad=0
    for i in $(seq 200); do
        [ -f "$view/d/f$i" ] || continue
        [ "$(tr -d x < "$view/d/f$i" | wc -c):$(stat -c %s "$view/d/f$i")" = "0:$((1000 + i))" ] || bad=$((bad + 1))
    done
else
    named=$(find "$view/store" -type f ! -name '.*' 2>/dev/null | wc -l)
    # every object's name against the digest fsverity-utils measures of what it holds ("sha256:HEX
    # XX/REST" a line); an object it cannot read counts as bad too
    good=$( (cd "$view/store" 2>/dev/null && find . -type f ! -name '.*' -printf '%P\0' | xargs -0 -r fsverity digest) \
        | awk '{ sub(/^sha256:/, "", $1); p = $2; sub("/", "", p); if (p == $1) n++ } END { print n + 0 }')
    bad=$((named - good))
    if [ "$case" = done ]; then
        if [ ! -e "$view/image.cfs" ]; then image=absent
        elif cmp -s "$view/image.cfs" "$work/written.cfs"; then image=same
        else image=differs; fi
    fi
fi
echo "named=$named bad=$bad image=$image"
