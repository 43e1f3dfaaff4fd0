package dev.composefs.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the bindings against the installed kernel and libc headers: a C probe generated from
 * the Java classes themselves prints every constant, struct size and member offset; gcc
 * compiles it against the system headers and the output must equal the Java values.
 */
class LayoutProbeTest {
    /** Each header class with the C headers that declare its constants and structs. */
    private static final Map<Class<?>, List<String>> HEADERS = new LinkedHashMap<>();

    static {
        HEADERS.put(unistd_h.class, List.of("unistd.h", "sys/syscall.h"));
        HEADERS.put(sys_mount_h.class, List.of("sys/mount.h", "fcntl.h"));
        HEADERS.put(fcntl_h.class, List.of("fcntl.h", "linux/openat2.h"));
        HEADERS.put(sys_ioctl_h.class, List.of("sys/ioctl.h"));
        HEADERS.put(linux_fs_h.class, List.of("linux/fs.h"));
        HEADERS.put(linux_nsfs_h.class, List.of("linux/nsfs.h"));
        HEADERS.put(linux_keyctl_h.class, List.of("sys/syscall.h"));
        HEADERS.put(linux_fsverity_h.class, List.of("linux/fsverity.h"));
        HEADERS.put(linux_loop_h.class, List.of("linux/loop.h"));
        HEADERS.put(sys_stat_h.class, List.of("sys/stat.h", "fcntl.h"));
        HEADERS.put(sys_xattr_h.class, List.of("sys/xattr.h", "linux/limits.h"));
        HEADERS.put(sys_mman_h.class, List.of("sys/mman.h"));
        HEADERS.put(sched_h.class, List.of("sched.h"));
        HEADERS.put(stdio_h.class, List.of("stdio.h"));
        HEADERS.put(sys_file_h.class, List.of("sys/file.h"));
        HEADERS.put(dirent_h.class, List.of("dirent.h"));
        HEADERS.put(Errno.class, List.of("errno.h"));
        HEADERS.put(linux_fuse_h.class, List.of("linux/fuse.h"));
        HEADERS.put(linux_fuse_passthrough_h.class, List.of("linux/fuse.h"));
        HEADERS.put(sys_socket_h.class, List.of("sys/socket.h", "sys/uio.h"));
    }

    /** Classes whose definitions are newer than some hosts' headers: the condition they need. */
    private static final Map<Class<?>, String> SINCE = Map.of(
            linux_fuse_passthrough_h.class, "FUSE_KERNEL_MINOR_VERSION >= 40");

    @Test
    void everyBindingClassIsProbed() throws IOException {
        Path classes = Path.of(unistd_h.class.getProtectionDomain().getCodeSource().getLocation().getPath(),
                "dev/composefs/bindings");
        List<String> missing = new ArrayList<>();
        try (var files = Files.list(classes)) {
            for (Path p : files.toList()) {
                String name = p.getFileName().toString();
                if (!name.endsWith(".class") || name.contains("$")) {
                    continue;
                }
                Class<?> c;
                try {
                    c = Class.forName("dev.composefs.bindings." + name.substring(0, name.length() - 6));
                } catch (ClassNotFoundException e) {
                    throw new AssertionError(e);
                }
                if (!constants(c).isEmpty() || !structs(c).isEmpty()) {
                    if (!HEADERS.containsKey(c)) {
                        missing.add(c.getSimpleName());
                    }
                }
            }
        }
        assertTrue(missing.isEmpty(), "binding classes with constants or structs not covered by the probe: " + missing);
    }

    /** gcc (bin/test installs it): in CI (CI=true) its absence fails the run, elsewhere the test is skipped. */
    private static void requireGcc() {
        boolean gcc = Files.isExecutable(Path.of("/usr/bin/gcc"));
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(gcc, "CI: gcc is not installed (bin/test installs it)");
        }
        assumeTrue(gcc, "gcc is not installed (bin/test installs it)");
    }

    @Test
    void constantsAndLayoutsMatchTheHeaders(@TempDir Path dir) throws Exception {
        requireGcc();
        Map<String, Long> expectedFromJava = new TreeMap<>();
        int probed = 0;
        for (var e : HEADERS.entrySet()) {
            Class<?> c = e.getKey();
            StringBuilder src = new StringBuilder("#define _GNU_SOURCE\n#include <stdio.h>\n#include <stddef.h>\n");
            for (String h : e.getValue()) {
                src.append("#include <").append(h).append(">\n");
            }
            src.append("int main(void) {\n");
            String prefix = c.getSimpleName() + ".";
            String since = SINCE.get(c);
            if (since != null) {
                // the values are printed only where the headers define them; otherwise one line says so
                src.append("#if !(").append(since).append(")\n  printf(\"older-headers %s\\n\", \"")
                        .append(c.getSimpleName()).append("\");\n  return 0;\n#else\n");
            }
            for (var k : constants(c).entrySet()) {
                src.append("  printf(\"%s %lld\\n\", \"").append(prefix).append(k.getKey()).append("\", (long long)(")
                        .append(k.getKey()).append("));\n");
                expectedFromJava.put(prefix + k.getKey(), k.getValue());
            }
            for (StructLayout s : structs(c)) {
                String struct = "struct " + s.name().orElseThrow();
                String key = prefix + "sizeof(" + struct + ")";
                src.append("  printf(\"%s %lld\\n\", \"").append(key).append("\", (long long)sizeof(").append(struct)
                        .append("));\n");
                expectedFromJava.put(key, s.byteSize());
                for (MemoryLayout m : s.memberLayouts()) {
                    if (m instanceof PaddingLayout || m.name().isEmpty()) {
                        continue;
                    }
                    String member = m.name().get();
                    String okey = prefix + "offsetof(" + struct + "," + member + ")";
                    src.append("  printf(\"%s %lld\\n\", \"").append(okey).append("\", (long long)offsetof(")
                            .append(struct).append(", ").append(member).append("));\n");
                    expectedFromJava.put(okey, s.byteOffset(MemoryLayout.PathElement.groupElement(member)));
                    if (m instanceof GroupLayout g) {
                        String skey = prefix + "sizeof(" + struct + "." + member + ")";
                        src.append("  printf(\"%s %lld\\n\", \"").append(skey).append("\", (long long)sizeof(((")
                                .append(struct).append(" *)0)->").append(member).append("));\n");
                        expectedFromJava.put(skey, g.byteSize());
                    }
                }
            }
            src.append(since != null ? "  return 0;\n#endif\n}\n" : "  return 0;\n}\n");
            Path cfile = dir.resolve(c.getSimpleName() + ".c");
            Path exe = dir.resolve(c.getSimpleName());
            Files.writeString(cfile, src);
            run(List.of("gcc", "-Wall", "-Werror", "-o", exe.toString(), cfile.toString()), dir);
            String out = run(List.of(exe.toString()), dir);
            if (out.startsWith("older-headers ")) {
                System.out.println("layout probe: " + c.getSimpleName() + " not checked: this host's headers lack it ("
                        + since + " is false); Debian 13's linux-libc-dev has it");
                expectedFromJava.keySet().removeIf(k -> k.startsWith(prefix));
                continue;
            }
            for (String line : out.split("\n")) {
                if (line.isBlank()) {
                    continue;
                }
                int sp = line.lastIndexOf(' ');
                String name = line.substring(0, sp);
                long fromC = Long.parseLong(line.substring(sp + 1));
                Long fromJava = expectedFromJava.get(name);
                assertEquals(fromC, normalize(fromJava, fromC), name + " differs between Java and the C headers");
                probed++;
            }
        }
        assertEquals(expectedFromJava.size(), probed, "every Java value was printed by the probe");
    }

    /**
     * Both columns of {@link Classic}: this architecture's numbers against sys/syscall.h, and the
     * generic table (arm64, riscv64, loongarch64) against asm-generic/unistd.h, which every
     * architecture's kernel headers carry.
     */
    @Test
    void classicSyscallNumbersMatchTheKernelHeaders(@TempDir Path dir) throws Exception {
        requireGcc();
        boolean libc = "libc".equals(System.getProperty("composefs.syscalls")); // the pom's second run
        assertEquals(Classic.Table.COLUMN >= 0 && !libc, Classic.RAW, "classic calls go through syscall(2) unless libc is asked for");
        Map<String, Long> generic = syscallNumbers(dir, "generic", "asm-generic/unistd.h", "__NR_");
        Map<String, Long> native_ = syscallNumbers(dir, "native", "sys/syscall.h", "SYS_");
        for (Classic c : Classic.values()) {
            assertEquals(generic.get(c.name()), c.generic, c.name() + " in the generic table");
            if (Classic.Table.COLUMN >= 0) {
                assertEquals(native_.get(c.name()), c.number, c.name() + " on " + System.getProperty("os.arch"));
            }
        }
        assertEquals(Classic.values().length, generic.size());
    }

    private static Map<String, Long> syscallNumbers(Path dir, String name, String header, String prefix) throws Exception {
        StringBuilder src = new StringBuilder("#include <stdio.h>\n#include <" + header + ">\nint main(void) {\n");
        for (Classic c : Classic.values()) {
            src.append("  printf(\"%s %lld\\n\", \"").append(c.name()).append("\", (long long)(").append(prefix)
                    .append(c.name()).append("));\n");
        }
        src.append("  return 0;\n}\n");
        Path cfile = dir.resolve(name + ".c");
        Path exe = dir.resolve(name);
        Files.writeString(cfile, src);
        run(List.of("gcc", "-Wall", "-Werror", "-o", exe.toString(), cfile.toString()), dir);
        Map<String, Long> out = new TreeMap<>();
        for (String line : run(List.of(exe.toString()), dir).split("\n")) {
            if (!line.isBlank()) {
                String[] f = line.split(" ");
                out.put(f[0], Long.parseLong(f[1]));
            }
        }
        return out;
    }

    /** Java ints are signed; C's unsigned 32-bit constants (ioctl numbers) print as positive. */
    /**
     * The bindings read and write struct members at offsets from {@link Native#offsetOf} (no
     * layout paths, see there); every member of every struct, nested ones too, must be where the
     * JDK's own layout path arithmetic puts it (which the C probe above checks against gcc).
     */
    @Test
    void memberOffsetsMatchLayoutPaths() {
        int checked = 0;
        for (Class<?> c : HEADERS.keySet()) {
            for (StructLayout s : structs(c)) {
                checked += checkOffsets(s, s, new ArrayList<>());
            }
        }
        assertTrue(checked > 80, "only " + checked + " members checked");
    }

    private static int checkOffsets(StructLayout root, GroupLayout group, List<String> prefix) {
        int checked = 0;
        for (MemoryLayout m : group.memberLayouts()) {
            if (m.name().isEmpty()) {
                continue;
            }
            List<String> path = new ArrayList<>(prefix);
            path.add(m.name().get());
            MemoryLayout.PathElement[] elements = path.stream().map(MemoryLayout.PathElement::groupElement)
                    .toArray(MemoryLayout.PathElement[]::new);
            assertEquals(root.byteOffset(elements), Native.offsetOf(root, path.toArray(String[]::new)),
                    root.name().orElse("?") + "." + String.join(".", path));
            checked++;
            if (m instanceof GroupLayout g) {
                checked += checkOffsets(root, g, path);
            }
        }
        return checked;
    }

    private static long normalize(Long javaValue, long cValue) {
        if (javaValue == null) {
            throw new AssertionError("probe printed a value the Java side did not declare");
        }
        if (javaValue < 0 && cValue > 0 && javaValue >= Integer.MIN_VALUE) {
            return Integer.toUnsignedLong(javaValue.intValue());
        }
        return javaValue;
    }

    private static Map<String, Long> constants(Class<?> c) {
        Map<String, Long> out = new TreeMap<>();
        for (Field f : c.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (!Modifier.isPublic(mod) || !Modifier.isStatic(mod) || !Modifier.isFinal(mod)) {
                continue;
            }
            try {
                if (f.getType() == int.class) {
                    out.put(f.getName(), (long) f.getInt(null));
                } else if (f.getType() == long.class) {
                    out.put(f.getName(), f.getLong(null));
                }
            } catch (IllegalAccessException e) {
                throw new AssertionError(e);
            }
        }
        return out;
    }

    private static List<StructLayout> structs(Class<?> c) {
        List<StructLayout> out = new ArrayList<>();
        for (Field f : c.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (Modifier.isPublic(mod) && Modifier.isStatic(mod) && f.getType() == StructLayout.class) {
                try {
                    out.add((StructLayout) f.get(null));
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return out;
    }

    private static String run(List<String> cmd, Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timeout: " + cmd);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + out);
        return out;
    }
}
