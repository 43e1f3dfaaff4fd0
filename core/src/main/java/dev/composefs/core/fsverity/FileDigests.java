package dev.composefs.core.fsverity;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.util.Parallel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The fs-verity digests of files named on a command line (composefs-info measure-file): read on
 * several threads at once, a large regular file in parts that the threads share, so that one
 * large file is hashed by every core. Anything readable is measured, a pipe too.
 */
public final class FileDigests {
    private FileDigests() {}

    /** A file's digest, or why there is none (one line, naming the file). */
    public record Outcome(byte[] digest, String failure) {}

    /** The outcomes for paths, in their order. */
    public static List<Outcome> of(List<String> paths, int threads) throws IOException {
        Outcome[] outcomes = new Outcome[paths.size()];
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < paths.size(); i++) {
            order.add(i);
        }
        Parallel.Sharing<FdDigester> sharing = threads > 1 ? new Parallel.Sharing<>() : null;
        Parallel.forEach(order, threads, FdDigester::new, (dg, i) -> outcomes[i] = measure(dg, paths.get(i), sharing),
                sharing);
        return List.of(outcomes);
    }

    private static Outcome measure(FdDigester dg, String path, Parallel.Sharing<FdDigester> sharing) {
        int fd;
        try {
            fd = fcntl_h.openat(dg.scratch(), fcntl_h.AT_FDCWD, path.getBytes(StandardCharsets.UTF_8),
                    fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
        } catch (SyscallException e) {
            return new Outcome(null, "failed to open '" + path + "': "
                    + (e.is(Errno.ENOENT) ? "no such file" : e.errnoName()));
        }
        try {
            sys_stat_h.Statx st = sys_stat_h.statx(dg.scratch(), fd, sys_stat_h.STATX_TYPE | sys_stat_h.STATX_SIZE);
            long size = st.size();
            if (st.type() == sys_stat_h.S_IFREG && FdDigester.sharesHashing(sharing, size)) {
                FdDigester.Result r = dg.digestShared(fd, size, sharing, path);
                if (r.size() != size) {
                    return new Outcome(null, path + ": changed while being read (" + size + " bytes, then " + r.size() + ")");
                }
                return new Outcome(r.digest(), null);
            }
            return new Outcome(dg.digest(fd, 0, path).digest(), null);
        } catch (SyscallException e) {
            return new Outcome(null, "failed to compute the fs-verity digest of '" + path + "': " + e.errnoName());
        } catch (IOException e) {
            return new Outcome(null, e.getMessage());
        } finally {
            unistd_h.closeQuietly(dg.scratch(), fd);
        }
    }
}
