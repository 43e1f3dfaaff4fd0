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
    local prog=$1 jdk cp cds
    shift
    jdk=$(find_jdk) || exit 1
    ensure_built || exit 1
    # The jar's manifest names its class path (target/lib) and enables native access.
    jar=$(ls "$REPO"/mount-helper/target/mount-helper-*.jar | head -n1)
    # AppCDS archive, created on first run and recreated by the JVM when the jars change:
    # start-up is most of a small mkcomposefs run.
    cds="$REPO/mount-helper/target/launcher.jsa"
    exec "$jdk/bin/java" $(jit_flags "$prog" "$@") -Xmn64m \
        -XX:SharedArchiveFile="$cds" -XX:+AutoCreateSharedArchive -Xshare:auto -Xlog:disable \
        -jar "$jar" "$prog" "$@"
}

# Short runs (a dump, an image, a mount) are over before C2 would pay off: C1 only and the
# serial GC. Runs that hash file content (directory ingest, store fsck, measure-file) need C2,
# which alone compiles SHA-256 to the CPU's SHA instructions, and get parallel GC threads.
jit_flags() {
    local prog=$1 a
    shift
    case $prog in
        mkcomposefs)
            for a in "$@"; do [ "$a" = --from-file ] && { echo "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"; return; }; done
            echo "-XX:+UseParallelGC" ;;
        composefs-info)
            [ "${1:-}" = measure-file ] && { echo "-XX:+UseParallelGC"; return; }
            echo "-XX:+UseSerialGC -XX:TieredStopAtLevel=1" ;;
        composefs)
            [ "${1:-}" = store ] && { echo "-XX:+UseParallelGC"; return; }
            echo "-XX:+UseSerialGC -XX:TieredStopAtLevel=1" ;;
        *) echo "-XX:+UseSerialGC -XX:TieredStopAtLevel=1" ;;
    esac
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
