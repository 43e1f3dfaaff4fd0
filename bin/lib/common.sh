# Shared by the launchers and scripts in bin/: locate a JDK >= 22, build, run a command.
# Sourced, not executed. Callers set REPO (absolute) from their own resolved path.

JDK_MIN=22

# The launchers run this before every command, where a fork and exec of readlink, sed or ls
# costs a millisecond or more (18 of them were 60 ms of a 0.1 s mount helper start): the
# functions below use bash builtins and report through variables, forking only on a miss.

# Sets JDK_FEATURE to the feature version of the JDK at $1 (from its release file), or "".
jdk_feature_of() {
    local line
    JDK_FEATURE=
    [ -r "$1/release" ] || return 0
    while IFS= read -r line; do
        if [[ $line =~ ^JAVA_VERSION=\"([0-9]+) ]]; then
            JDK_FEATURE=${BASH_REMATCH[1]}
            return 0
        fi
    done <"$1/release"
}

# Whether $1 is a JDK >= $JDK_MIN.
usable_jdk() {
    [ -n "$1" ] && [ -x "$1/bin/java" ] || return 1
    jdk_feature_of "$1"
    [ -n "$JDK_FEATURE" ] && [ "$JDK_FEATURE" -ge "$JDK_MIN" ]
}

# Sets REPLY to the first executable file $1 on PATH, or "" (type -P without the fork of the
# $(...) that would read its output: 0.45 ms against 0.13 ms here).
find_on_path() {
    local rest=$PATH: d
    REPLY=
    while [ -n "$rest" ]; do
        d=${rest%%:*}
        rest=${rest#*:}
        if [ -f "${d:-.}/$1" ] && [ -x "${d:-.}/$1" ]; then
            REPLY=${d:-.}/$1
            return 0
        fi
    done
    return 1
}

# Sets JDK to the home of a JDK >= $JDK_MIN: $JAVA_HOME, the java on PATH, then /usr/lib/jvm/*,
# newest first (the distribution's default java may be older: 17 on Debian 12). The choice is
# remembered in target/ for the same JAVA_HOME, java on PATH and installed JDKs.
locate_jdk() {
    local cand java_on_path memo key mkey mjdk installed
    find_on_path java
    java_on_path=$REPLY
    installed=(/usr/lib/jvm/*/ /opt/java/*/ /opt/jdk*/)
    key="${JAVA_HOME:-}|$java_on_path|${installed[*]}"
    memo="$REPO/mount-helper/target/startup/jdk"
    if [ -r "$memo" ] && { IFS= read -r mkey && IFS= read -r mjdk; } <"$memo" && [ "$mkey" = "$key" ] \
            && usable_jdk "$mjdk"; then
        JDK=$mjdk
        return 0
    fi
    [ -n "$java_on_path" ] && java_on_path=$(dirname "$(dirname "$(readlink -f "$java_on_path")")")
    for cand in "${JAVA_HOME:-}" "$java_on_path" $(ls -d "${installed[@]}" 2>/dev/null | sort -rV); do
        cand=${cand%/}
        if usable_jdk "$cand"; then
            JDK=$cand
            if [ -d "${memo%/*}" ] || mkdir -p "${memo%/*}" 2>/dev/null; then
                { printf '%s\n%s\n' "$key" "$JDK" >"$memo"; } 2>/dev/null # read-only: just not remembered
            fi
            return 0
        fi
    done
    echo "composefs: no JDK >= $JDK_MIN found (looked at \$JAVA_HOME, PATH and /usr/lib/jvm);" \
         "install one, e.g. Temurin from adoptium.net" >&2
    return 1
}

# Prints the home of a JDK >= $JDK_MIN (see locate_jdk).
find_jdk() {
    locate_jdk && echo "$JDK"
}

# Sets JAR to the launcher jar, building the project first if it or its class path (target/lib)
# is missing (first run on a fresh clone).
ensure_built() {
    local jars=("$REPO"/mount-helper/target/mount-helper-*.jar)
    if [ ! -f "${jars[0]}" ] || [ ! -d "$REPO/mount-helper/target/lib" ]; then
        echo "composefs: building (first run)..." >&2
        (cd "$REPO" && mvn -B -q -DskipTests package >&2) || {
            echo "composefs: build failed" >&2
            return 1
        }
        jars=("$REPO"/mount-helper/target/mount-helper-*.jar)
    fi
    JAR=${jars[0]}
}

# Runs the CLI entry point as program $1 with the remaining arguments.
run_cli() {
    local prog=$1 flags cache dir rc conf
    shift
    locate_jdk || exit 1
    ensure_built || exit 1
    # The jar's manifest names its class path (target/lib) and enables native access.
    jit_flags "$prog" "$@"
    flags="$JIT_FLAGS -Xlog:disable"
    dir="$REPO/mount-helper/target/startup"
    # Start-up is most of a short run (a mount, a small image): the JVM's class data cache,
    # one per program, kind of run and JDK, since the cache only serves the flags it was made
    # with, and loads at start-up every class its first run loaded.
    cache="$dir/$prog-${JDK##*/}-$JIT_KIND"
    jdk_feature_of "$JDK"
    if [ "$JDK_FEATURE" -lt 25 ]; then
        # JDK 22-24: a dynamic AppCDS archive. A rebuilt jar makes it unusable and the JVM then
        # neither uses nor recreates it, so drop it.
        stale_cache "$cache.jsa" "$JAR" || exec "$JDK/bin/java" $flags -jar "$JAR" "$prog" "$@"
        [ -d "$dir" ] || mkdir -p "$dir" 2>/dev/null
        exec "$JDK/bin/java" $flags -XX:SharedArchiveFile="$cache.jsa" -XX:+AutoCreateSharedArchive -Xshare:auto \
            -jar "$JAR" "$prog" "$@"
    fi
    # JDK 25+: an AOT cache (JEP 483/514), which also keeps linked call sites, so a mount's
    # start-up is about half that with AppCDS; run on our runtime of that JDK (select_runtime).
    select_runtime "$dir"
    local java="$RUNTIME/bin/java"
    cache="$dir/$prog-${RUNTIME##*/}-$JIT_KIND"
    stale_cache "$cache.aot" "$JAR" "$RUNTIME/lib/modules" || exec "$java" $flags -jar "$JAR" "$prog" "$@"
    if [ -f "$cache.aot" ]; then
        exec "$java" $flags -XX:AOTCache="$cache.aot" -jar "$JAR" "$prog" "$@"
    fi
    if ! { [ -d "$dir" ] || mkdir -p "$dir" 2>/dev/null; } || [ ! -w "$dir" ]; then
        exec "$java" $flags -jar "$JAR" "$prog" "$@"   # read-only checkout: no cache
    fi
    local a
    for a in "$@"; do   # --version/--help would make a cache that knows none of the real work
        case $a in --version|-V|--help|-h) exec "$java" $flags -jar "$JAR" "$prog" "$@" ;; esac
    done
    # First run of this program: record it (the JVM's own notices silenced, they would mix
    # with our output), then build the cache from the recording under a temporary name.
    # The cache keeps that run's method profiles (JEP 515), which C1-only runs replay too. An
    # image from a dump gains from them, even with profiles of another dump (7 runs each in
    # turns, cs9 developer / cs9 minimal dump: cache recorded on the developer dump 197 / 119 ms,
    # on a small dump 234 / 123 ms, without profiles 239 / 126 ms). Runs that hash record none
    # (RECORD_FLAGS, hashing_flags): there the profiles of a larger tree slow a smaller one.
    conf="$cache.$$.conf"
    rc=0
    "$java" $flags -XX:AOTMode=record -XX:AOTConfiguration="$conf" \
        -XX:+UnlockDiagnosticVMOptions -XX:-DisplayVMOutput $RECORD_FLAGS -jar "$JAR" "$prog" "$@" || rc=$?
    if [ "$rc" = 0 ] && [ -s "$conf" ]; then
        "$java" $flags -XX:AOTMode=create -XX:AOTConfiguration="$conf" -XX:AOTCache="$cache.$$.aot" \
            -jar "$JAR" >/dev/null 2>&1 && mv -f "$cache.$$.aot" "$cache.aot"
    fi
    rm -f "$conf" "$cache.$$.aot"
    exit "$rc"
}

# The modules the commands use (jdeps: java.base, java.naming, java.net.http, java.sql), and
# those a user's setting may call for: charsets and locale data for a locale, JFR to profile.
RUNTIME_MODULES=java.base,java.naming,java.net.http,java.sql,jdk.charsets,jdk.jfr,jdk.localedata,jdk.unsupported

# Sets RUNTIME to the Java home a JDK 25+ command runs on: our runtime of $JDK, made once under
# directory $1 (jlink, 1-2 s), or $JDK itself where none can be made (no jlink, a read-only
# checkout). The difference is its lib/classlist, which also names the lambda forms our
# downcalls use (bin/lib/lambda-forms): the run that records an AOT cache rebuilds the JDK's
# method handle holder classes from that file's list, and JDK 25 keeps no other forms, so with
# the JDK's own list every run spun a dozen as classes. A mount spins 7 classes instead of 19
# (bench/mount, 3 rounds taken in turns: 55.8-59.6 -> 50.4-52.8 ms, the same 36.2 MB); a scan
# of the JDK's tree, 0.2 s, shows no difference.
select_runtime() {
    local rt="$1/runtime-${JDK##*/}"
    RUNTIME=$JDK
    [ -d "$1" ] || mkdir -p "$1" 2>/dev/null
    if [ -x "$rt/bin/java" ] && runtime_current "$rt"; then
        RUNTIME=$rt
    elif [ -x "$JDK/bin/jlink" ] && [ -w "$1" ] && make_runtime "$rt"; then
        RUNTIME=$rt
    fi
}

# Whether runtime $1 was made from $JDK as it is now (same release file, modules no newer; an
# updated JDK gets a new runtime) with the lambda form list and RUNTIME_MODULES as they are now
# (an updated checkout may need another module; no fork: tests and read are builtins).
runtime_current() {
    local mine= theirs= modules=
    [ ! "$1/lib/modules" -ot "$JDK/lib/modules" ] && [ ! "$1/lib/classlist" -ot "$REPO/bin/lib/lambda-forms" ] \
        || return 1
    { IFS= read -r -d '' mine <"$1/jdk.release"; IFS= read -r -d '' theirs <"$JDK/release"
        IFS= read -r modules <"$1/composefs.modules"; } 2>/dev/null
    [ -n "$mine" ] && [ "$mine" = "$theirs" ] && [ "$modules" = "$RUNTIME_MODULES" ]
}

# Makes runtime $1 from $JDK: jlink into a temporary name, the lambda forms appended to its
# class list, then renamed into place (a stale one moved aside first; a launcher that makes it
# at the same time just loses the rename). Quiet: without it a command only starts slower.
make_runtime() {
    local tmp="$1.$$"
    rm -rf "$tmp"
    if "$JDK/bin/jlink" --add-modules "$RUNTIME_MODULES" --no-header-files --no-man-pages --output "$tmp" \
            >/dev/null 2>&1 && grep -v '^#' "$REPO/bin/lib/lambda-forms" >>"$tmp/lib/classlist" \
            && cp "$JDK/release" "$tmp/jdk.release" && echo "$RUNTIME_MODULES" >"$tmp/composefs.modules"; then
        if [ -e "$1" ]; then
            mv -T "$1" "$1.old.$$" 2>/dev/null && rm -rf "$1.old.$$"
        fi
        mv -T "$tmp" "$1" 2>/dev/null
    fi
    rm -rf "$tmp"
    [ -x "$1/bin/java" ] && runtime_current "$1"
}

# Removes cache file $1 if it is older than jar $2, any jar beside it in target/lib or any
# further file named ($3...: the runtime's modules, which the JVM checks a cache against and
# refuses one it was not made with): with JDK 25 an AOT cache that no longer matches made a
# 64k-entry build 40% slower, and one the JVM took for current ran the classes it holds, not
# the rebuilt jar's (tests are builtins, no fork). Fails if the file is stale and stays, which a
# user who may not remove it (a checkout built by root) must then run without.
stale_cache() {
    local j
    for j in "$2" "${2%/*}"/lib/*.jar "${@:3}"; do
        if [ "$1" -ot "$j" ]; then
            rm -f "$1" 2>/dev/null
            [ ! -e "$1" ]
            return
        fi
    done
}

# Sets JIT_FLAGS for program $1 with arguments $2..., and JIT_KIND, the kind of run they are
# for, which names its class data cache: a cache recorded by one kind of run (an image from a
# dump, say) made another (a directory scan) load the classes of both at start-up, 1.8 MB more
# peak RSS for a scan of 55k files (bench/ingest). Short runs (a dump, an image, a mount)
# are over before C2 would pay off, so C1 only and the serial GC. Runs that hash file content
# (directory ingest, store fsck, measure-file) hash through libcrypto where it is installed
# (core's FsVerity, bindings' openssl_sha_h), at the CPU's speed under C1 too: C2 would spend
# more CPU compiling than it saves (1.9 s of compilation in a 1.5 s digest of 55k files).
# Without libcrypto they need C2, which alone compiles the JDK's SHA-256 to the CPU's SHA
# instructions. OCI import and pull always take C2: their blob digests and zlib run in the JDK.
jit_flags() {
    local prog=$1 a
    shift
    JIT_FLAGS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmn64m"
    JIT_KIND=c1
    RECORD_FLAGS=
    case $prog in
        mkcomposefs)
            local store= path= take= dump= sign=
            for a in "$@"; do
                case $take in
                    store) path=$a take= ; continue ;;
                    value) take= ; continue ;;
                esac
                case $a in
                    --from-file) dump=1 ;;
                    --digest-store) store=-store take=store ;;
                    --digest-store=*) store=-store path=${a#--digest-store=} ;;
                    --sign-key | --sign-cert) sign=-sign take=value ;;
                    --sign-key=* | --sign-cert=*) sign=-sign ;;
                    --min-version | --max-version | --threads | --format) take=value ;; # as MkComposefs.takesValue
                esac
            done
            # A run that signs has a cache of its own: one recorded by a signing run made every
            # later scan load the signature code's 640 classes (X.509, PKCS#7, regex, logging) at
            # start-up: a digest-only run of the JDK's tree 0.20 -> 0.30 s, 44 -> 63 MB peak RSS
            # (a fresh clone's tests happened to sign first).
            if [ -n "$dump" ]; then
                build_young_gen
                JIT_FLAGS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 $YOUNG_GEN"
                JIT_KIND=c1-dump$sign
                return
            fi
            # A scan into a store has a cache of its own: one recorded by a digest-only scan
            # lacks the store's classes (a warm-store ingest of the JDK's tree: 229 -> 219 ms).
            # And one for a store that has no objects yet: the first run into a store records
            # the cache and writes every object, a later one mostly finds them stored, and a
            # cache loads all the classes its recording run did (the JDK's tree into a warm
            # store with a cache recorded warm instead of cold, medians of 8 and 12 runs taken
            # in turns: 221 -> 213 and 221.5 -> 216.5 ms).
            if [ -n "$store" ] && ! has_objects "$path"; then
                store=-newstore
            fi
            hashing_flags
            JIT_KIND=$JIT_KIND$store$sign ;;
        composefs-info) [ "${1:-}" = measure-file ] && hashing_flags ;;
        mount.composefs) mount_flags "$@" ;;
        composefs)
            case ${1:-} in store) hashing_flags ;; oci) JIT_FLAGS="-XX:+UseParallelGC -Xmn64m" JIT_KIND=c2 ;; esac
            # Each subcommand its own cache, for the same reason: the OCI hook, which runs as a
            # container starts, must not load what a 'composefs sign' recorded before it.
            case ${1:-} in [a-z]*) JIT_KIND=$JIT_KIND-${1//[^a-z-]/} ;; esac
            # The OCI hook runs twice per container, outside it (the runtime's state, nsenter) and
            # inside (the mount): a cache each (bench/oci-hook, 40 containers per round taken in
            # turns: the hook added 364 and 366 ms with one cache, 340 and 314 ms with two).
            if [ "${1:-}" = oci-hook ]; then
                for a in "$@"; do
                    [ "$a" = --inside ] && JIT_KIND=$JIT_KIND-inside
                done
            fi ;;
    esac
}

# Whether $1 is a store with objects: a subdirectory named by two hex digits (a glob, no fork).
has_objects() {
    local d
    for d in "$1"/[0-9a-f][0-9a-f]/; do
        [ -d "$d" ] && return 0
    done
    return 1
}

# Sets JIT_FLAGS for a mount. A plain mount is about 30 ms of code that runs once (option
# parsing, linking the one syscall downcall, a dozen syscalls): the interpreter alone does it
# faster than with C1, whose compiler thread competes for the CPU, and without C1's 8 MB of
# arenas and code (bench/mount: 62 -> 55 ms, 46 -> 38 MB peak RSS). Mounts that hash the image
# or walk its tree keep C1: digest=, signature=, verity, tryverity (matched anywhere in the
# arguments, so at worst a path with such a word in it mounts with C1), and kernels with the
# composefs driver, which is given the tree; a mount with signature= has a cache of its own,
# since it loads the signature code. -UsePerfData: no hsperfdata file for jps to find.
# A 16 MiB initial heap: the collector's tables for the default one (1/64 of memory) are written
# at start-up (0.6 MB of a mount's peak RSS on a 24 GiB machine, bench/mount).
mount_flags() {
    local a b c1=
    for a in "$@"; do
        case $a in
            *signature=*) JIT_KIND=c1-sign; return ;;
            *digest=* | *verity*) c1=1 ;;
        esac
    done
    [ -z "$c1" ] || return
    if [ -r /proc/filesystems ]; then
        while read -r a b; do # "nodev<TAB>name" or "<TAB>name"
            [ "$a" = composefs ] || [ "$b" = composefs ] && return
        done </proc/filesystems
    fi
    JIT_FLAGS="-XX:+UseSerialGC -Xint -Xmn8m -Xms16m -XX:-UsePerfData"
    JIT_KIND=int
}

# Sets JIT_FLAGS for a run that hashes file content: C1 where libcrypto hashes, C2 otherwise.
# - A small young generation: a scan's garbage dies young, and every page of eden counts in
#   RSS (64 MiB was 40 MiB more than 16, and 8 MiB is 6.5 MiB less again at the same speed on
#   the 55k-file tree, bench/ingest).
# - What survives a young collection is mostly the tree, live to the end: it goes to the old
#   generation at once (MaxTenuringThreshold=0) instead of being copied between survivor
#   spaces at every collection (GC pauses of a 55k-file digest: 54 -> 43 ms). 55k tree, rounds
#   in turns: warm store 890 -> 842 ms, 73.7 -> 74.5 MB peak RSS; digest-only 707 -> 699 ms,
#   73.6 -> 74.3 MB; 200k entries 143.2 -> 146.6 MB (503 B per entry from 55k); the JDK's tree
#   the same. A 16 MiB young generation was 12 ms faster again, but a warm-store ingest of the
#   55k tree then peaked at 79 MB, over the issue's 75 MiB.
# - A small initial heap: the collector's card and offset tables for the default one (1/64 of
#   memory, here 384 MiB) are written at start-up and count too (0.7 MB; the heap grows as
#   needed, with no full collection even at 200k entries).
# Only such runs look for libcrypto: a mount's start-up does not. Their caches keep no method
# profiles (-AOTRecordTraining; a diagnostic flag the recording run unlocks anyway): a replayed
# profile compiles at start-up what the recording run found hot, and a run of another size pays
# for it. Warm-store ingests, 8 runs each in turns, the JDK's tree and the 55k-file tree: with a
# cache recorded on the 55k tree 222 and 872 ms, on the JDK's tree 204 and 884 ms, without
# profiles 206 and 887 ms. Digest-only: 193-200 and 768-793 ms whatever the cache was recorded on.
hashing_flags() {
    if have_libcrypto; then
        JIT_FLAGS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmn8m -XX:MaxTenuringThreshold=0 -Xms32m $NO_STACKMAP_C1 $EARLY_OSR_C1"
        JIT_KIND=c1-hash
        RECORD_FLAGS=-XX:-AOTRecordTraining
    else
        JIT_FLAGS="-XX:+UseParallelGC -Xmn64m"
        JIT_KIND=c2-hash
    fi
}

# The JDK spins classes for its FFM downcalls and method handles (about 90 in a digest of a tree),
# and the stack-map generator of its class-file API gets hot doing it: C1 compiling that one
# method took a 6.6 MB arena, whose chunks stay in the process. Interpreted, it costs no time
# measurable (bench/ingest: 4.5 MB less peak RSS at the same speed on the JDK and 55k trees).
# Quiet: a JDK without that method just compiles everything.
NO_STACKMAP_C1="-XX:CompileCommand=quiet -XX:CompileCommand=exclude,jdk.internal.classfile.impl.StackMapGenerator::processBlock"

# A loop in a method called once is compiled (on-stack replacement) only after 60,000
# iterations, C1's default back-edge threshold: the image writer's loops over every entry ran
# interpreted to the end for a 55k-file tree (30% of the writer's JFR samples were in the
# interpreter). 6,000 compiles them within their first tenth; methods called often are
# untouched (their threshold is the invocation count). bench/ingest's 55k tree, rounds taken in
# turns: digest-only 808 -> 782 ms (4 rounds: 6-51 ms less), warm store 867 -> 834 ms and
# 2.7 MB less peak RSS; the JDK's tree (486 entries): 198.1 / 197.1 ms digest-only, 202.2 / 202.0
# ms warm. Scaling every threshold of the writer's package instead made the JDK's tree 1-3% slower.
EARLY_OSR_C1="-XX:Tier3BackEdgeThreshold=6000"

# Whether libcrypto.so.3 is where the dynamic loader finds it (a glob: no fork on the way to java).
have_libcrypto() {
    local f
    for f in /usr/lib/*/libcrypto.so.3 /lib/*/libcrypto.so.3 /usr/lib64/libcrypto.so.3 /usr/lib/libcrypto.so.3; do
        [ -e "$f" ] && return 0
    done
    return 1
}

# Building an image from a dump is allocation, nearly all of it live until the image is written:
# each young collection copies the whole tree so far (two of them were 140 ms of a 0.5 s run on
# a 64k-entry dump). A young generation that holds such a build means no collection at all, and
# only pages actually allocated count towards RSS. Only where memory allows (>= 2 GiB); a bigger
# dump still collects as usual. Sets YOUNG_GEN.
build_young_gen() {
    local key kb _
    while read -r key kb _; do
        [ "$key" = MemTotal: ] && break
    done </proc/meminfo
    if [ "${kb:-0}" -ge 2097152 ]; then YOUNG_GEN=-Xmn192m; else YOUNG_GEN=-Xmn64m; fi
}

# Sets PROG to the command a launcher was invoked as: the first name along its symlink chain
# that is one of ours (so /sbin/mount.composefs -> /opt/x/bin/mount.composefs -> composefs is
# mount.composefs).
program_name() {
    local p=$1 target
    for _ in 1 2 3 4 5 6 7 8; do
        case ${p##*/} in
            mkcomposefs | composefs-info | composefs-dump | mount.composefs | composefs) PROG=${p##*/}; return ;;
        esac
        [ -L "$p" ] || break
        target=$(readlink "$p")
        case $target in /*) p=$target ;; *) p=${p%/*}/$target ;; esac
    done
    PROG=composefs
}
