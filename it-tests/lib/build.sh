# Shared by the test and bench scripts that assemble their own root file systems from the build:
# the JDK to jlink a small runtime from, and a check that the checkout is built. Sourced; needs REPO.

# Prints the home of a JDK >= 22 with jlink: $JAVA_HOME, else the newest under /usr/lib/jvm.
find_jdk() {
    local j v
    for j in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
        j=${j%/}
        [ -n "$j" ] && [ -x "$j/bin/jlink" ] || continue
        v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$j/release" 2>/dev/null)
        if [ -n "$v" ] && [ "$v" -ge 22 ]; then
            echo "$j"
            return 0
        fi
    done
    echo "no JDK >= 22 with jlink (JAVA_HOME, /usr/lib/jvm)" >&2
    return 1
}

# Fails, saying what to run, unless the build's jars are there (these scripts never build).
ensure_built() {
    local jars=("$REPO"/mount-helper/target/mount-helper-*.jar)
    if [ ! -f "${jars[0]}" ] || [ ! -d "$REPO/mount-helper/target/lib" ]; then
        echo "$REPO is not built: run 'mvn -B -DskipTests package' there" >&2
        return 1
    fi
}
