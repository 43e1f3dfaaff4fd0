import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes the ingest benchmark's source tree: FILES files in 500 directories, most of them small
 * (0-8 KiB) and one in ten larger (16-140 KiB), about 550 MB in all, from a fixed seed so every
 * run measures the same tree. One file in fifty repeats another's content (shared objects).
 */
public class GenTree {
    public static void main(String[] args) throws IOException {
        Path root = Path.of(args[0]);
        int files = Integer.parseInt(args[1]);
        SplittableRandom rnd = new SplittableRandom(20261124);
        byte[] buf = new byte[160 * 1024];
        byte[] last = null;
        for (int i = 0; i < files; i++) {
            Path dir = root.resolve("d" + (i % 500)).resolve("s" + (i % 7));
            Files.createDirectories(dir);
            int size = i % 10 == 0 ? 16384 + rnd.nextInt(140 * 1024 - 16384) : rnd.nextInt(8193);
            byte[] data;
            if (i % 50 == 49 && last != null) {
                data = last;
            } else {
                for (int j = 0; j < size; j += 8) {
                    long v = rnd.nextLong();
                    for (int k = 0; k < 8 && j + k < size; k++) {
                        buf[j + k] = (byte) (v >>> (8 * k));
                    }
                }
                data = java.util.Arrays.copyOf(buf, size);
                last = data;
            }
            Files.write(dir.resolve("f" + i), data);
        }
    }
}
