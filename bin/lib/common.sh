# Shared by the launchers and scripts in bin/: locate the repository and a JDK >= 22.
# Sourced, not executed. Callers set REPO from their own resolved path.

JDK_MIN=22

# Prints the feature version of the JDK at $1 (reads its release file), or nothing.
jdk_feature() {
    local v
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null)
    [ -n "$v" ] && echo "$v"
}

# Prints the home of a JDK >= $JDK_MIN: $JAVA_HOME, the java on PATH, then /usr/lib/jvm/*,
# newest first. The distribution's default java may be older (17 on Debian 12).
find_jdk() {
    local cand v java_on_path
    java_on_path=$(command -v java 2>/dev/null) && java_on_path=$(dirname "$(dirname "$(readlink -f "$java_on_path")")")
    for cand in "${JAVA_HOME:-}" "$java_on_path" $(ls -d /usr/lib/jvm/*/ /opt/java/*/ /opt/jdk*/ 2>/dev/null | sort -rV); do
        cand=${cand%/}
        [ -n "$cand" ] && [ -x "$cand/bin/java" ] || continue
        v=$(jdk_feature "$cand")
        if [ -n "$v" ] && [ "$v" -ge "$JDK_MIN" ]; then
            echo "$cand"
            return 0
        fi
    done
    echo "composefs: no JDK >= $JDK_MIN found (looked at \$JAVA_HOME, PATH and /usr/lib/jvm);" \
         "install one, e.g. Temurin from adoptium.net" >&2
    return 1
}

# Builds the project if the launcher classpath is missing (first run on a fresh clone).
ensure_built() {
    if ! ls "$REPO"/mount-helper/target/mount-helper-*.jar >/dev/null 2>&1 || [ ! -d "$REPO/mount-helper/target/lib" ]; then
        echo "composefs: building (first run)..." >&2
        (cd "$REPO" && mvn -B -q -DskipTests package >&2) || {
            echo "composefs: build failed" >&2
            return 1
        }
    fi
}

# Runs the CLI entry point as program $1 with the remaining arguments.
run_cli() {
    local prog=$1 jdk jar flags cache dir rc conf
    shift
    jdk=$(find_jdk) || exit 1
    ensure_built || exit 1
    # The jar's manifest names its class path (target/lib) and enables native access.
    jar=$(ls "$REPO"/mount-helper/target/mount-helper-*.jar | head -n1)
    flags="$(jit_flags "$prog" "$@") -Xlog:disable"
    dir="$REPO/mount-helper/target/startup"
    # Start-up is most of a short run (a mount, a small image): the JVM's class data cache,
    # one per program, JIT profile and JDK, since the cache only serves the flags it was made with.
    cache="$dir/$prog-$(basename "$jdk")-$(case $flags in *TieredStopAtLevel=1*) echo c1 ;; *) echo c2 ;; esac)"
    if [ "$(jdk_feature "$jdk")" -lt 25 ]; then
        # JDK 22-24: a dynamic AppCDS archive. A rebuilt jar makes it unusable and the JVM then
        # neither uses nor recreates it, so drop it (-ot is a test builtin, no fork).
        stale_cache "$cache.jsa" "$jar"
        mkdir -p "$dir" 2>/dev/null
        exec "$jdk/bin/java" $flags -XX:SharedArchiveFile="$cache.jsa" -XX:+AutoCreateSharedArchive -Xshare:auto \
            -jar "$jar" "$prog" "$@"
    fi
    # JDK 25+: an AOT cache (JEP 483/514), which also keeps linked call sites, so a mount's
    # start-up is about half that with AppCDS.
    stale_cache "$cache.aot" "$jar"
    if [ -f "$cache.aot" ]; then
        exec "$jdk/bin/java" $flags -XX:AOTCache="$cache.aot" -jar "$jar" "$prog" "$@"
    fi
    if ! mkdir -p "$dir" 2>/dev/null || [ ! -w "$dir" ]; then
        exec "$jdk/bin/java" $flags -jar "$jar" "$prog" "$@"   # read-only checkout: no cache
    fi
    local a
    for a in "$@"; do   # --version/--help would make a cache that knows none of the real work
        case $a in --version|-V|--help|-h) exec "$jdk/bin/java" $flags -jar "$jar" "$prog" "$@" ;; esac
    done
    # First run of this program: record it (the JVM's own notices silenced, they would mix
    # with our output), then build the cache from the recording under a temporary name.
    conf="$cache.$$.conf"
    rc=0
    "$jdk/bin/java" $flags -XX:AOTMode=record -XX:AOTConfiguration="$conf" \
        -XX:+UnlockDiagnosticVMOptions -XX:-DisplayVMOutput -jar "$jar" "$prog" "$@" || rc=$?
    if [ "$rc" = 0 ] && [ -s "$conf" ]; then
        "$jdk/bin/java" $flags -XX:AOTMode=create -XX:AOTConfiguration="$conf" -XX:AOTCache="$cache.$$.aot" \
            -jar "$jar" >/dev/null 2>&1 && mv -f "$cache.$$.aot" "$cache.aot"
    fi
    rm -f "$conf" "$cache.$$.aot"
    exit "$rc"
}

# Removes cache file $1 if it is older than jar $2 or any jar beside it in target/lib: a cache
# made from other classes than the ones on the class path is not used, and with JDK 25 an AOT
# cache that no longer matches made a 64k-entry build 40% slower (tests are builtins, no fork).
stale_cache() {
    local j
    for j in "$2" "$(dirname "$2")"/lib/*.jar; do
        if [ "$1" -ot "$j" ]; then
            rm -f "$1"
            return
        fi
    done
}

# Short runs (a dump, an image, a mount) are over before C2 would pay off: C1 only and the
# serial GC. Runs that hash file content (directory ingest, store fsck, measure-file) need C2,
# which alone compiles SHA-256 to the CPU's SHA instructions, and get parallel GC threads.
jit_flags() {
    local prog=$1 a short="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmn64m"
    shift
    case $prog in
        mkcomposefs)
            for a in "$@"; do [ "$a" = --from-file ] && { echo "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 $(build_young_gen)"; return; }; done
            echo "-XX:+UseParallelGC -Xmn64m" ;;
        composefs-info)
            [ "${1:-}" = measure-file ] && { echo "-XX:+UseParallelGC -Xmn64m"; return; }
            echo "$short" ;;
        composefs)
            [ "${1:-}" = store ] && { echo "-XX:+UseParallelGC -Xmn64m"; return; }
            echo "$short" ;;
        *) echo "$short" ;;
    esac
}

# Building an image from a dump is allocation, nearly all of it live until the image is written:
# each young collection copies the whole tree so far (two of them were 140 ms of a 0.5 s run on
# a 64k-entry dump). A young generation that holds such a build means no collection at all, and
# only pages actually allocated count towards RSS. Only where memory allows (>= 2 GiB); a bigger
# dump still collects as usual.
build_young_gen() {
    local key kb _
    while read -r key kb _; do
        [ "$key" = MemTotal: ] && break
    done </proc/meminfo
    if [ "${kb:-0}" -ge 2097152 ]; then echo "-Xmn192m"; else echo "-Xmn64m"; fi
}

# The command a launcher was invoked as: the first name along its symlink chain that is one of
# ours (so /sbin/mount.composefs -> /opt/x/bin/mount.composefs -> composefs is mount.composefs).
program_name() {
    local p=$1 target
    for _ in 1 2 3 4 5 6 7 8; do
        case $(basename "$p") in
            mkcomposefs | composefs-info | mount.composefs | composefs) basename "$p"; return ;;
        esac
        [ -L "$p" ] || break
        target=$(readlink "$p")
        case $target in /*) p=$target ;; *) p=$(dirname "$p")/$target ;; esac
    done
    echo composefs
}
