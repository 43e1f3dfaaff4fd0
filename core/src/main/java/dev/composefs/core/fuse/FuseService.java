package dev.composefs.core.fuse;

import dev.composefs.bindings.unistd_h;
import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.util.Capabilities;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * One image served through FUSE: the image read once and checked (digest=) on exactly the bytes
 * that are served, the store opened, the connection mounted, then served until it is unmounted.
 */
public final class FuseService {
    /**
     * Worker threads: enough that an OPEN finds one free while others answer the RELEASEs the
     * kernel sends in the background (bench/fuse read every file faster with four than with two,
     * on two cores).
     */
    private static final int THREADS = 4;

    /**
     * upstream composefs-fuse's options: source=IMAGE, basedir=STORE[:STORE...], digest=HEX,
     * verity (each object's fs-verity digest checked before its first byte is served), noacl;
     * and allow_other.
     */
    public record Options(Path image, List<Path> basedirs, byte[] digest, boolean verity, boolean acl,
            boolean allowOther, boolean passthrough) {

        /** The -o string of composefs-fuse. */
        public static Options parse(String options) throws MountException {
            Path image = null;
            boolean passthrough = true;
            List<String> rest = new ArrayList<>();
            for (String[] kv : MountOptions.split(options == null ? "" : options)) {
                if (kv[0].equals("nopassthrough") && kv[1] == null) {
                    passthrough = false; // for comparisons: reads through this server, as without privileges
                } else if (kv[0].equals("source")) {
                    if (kv[1] == null || kv[1].isEmpty()) {
                        throw MountException.usage("option 'source' needs a value");
                    }
                    image = Path.of(MountOptions.unescape(kv[1]));
                } else {
                    rest.add(kv[1] == null ? kv[0] : kv[0] + "=" + kv[1]); // still escaped: parsed again below
                }
            }
            if (image == null) {
                throw MountException.usage("no image given: source=IMAGE is required");
            }
            Options o = of(image, MountOptions.parse(String.join(",", rest)));
            return new Options(o.image(), o.basedirs(), o.digest(), o.verity(), o.acl(), o.allowOther(), passthrough);
        }

        /** The FUSE form of mount.composefs's options; those FUSE cannot honour are refused. */
        public static Options of(Path image, MountOptions m) throws MountException {
            if (m.upperdir() != null || m.idmap() != null || !m.uidmap().isEmpty() || m.signature() != null) {
                throw MountException.usage("upperdir=, idmap=, uidmap= and signature= are not available with FUSE");
            }
            return new Options(image, m.basedirs(), m.digest(), m.requireVerity(), !m.fuse().noacl(),
                    m.fuse().allowOther(), true);
        }

        /** source= and the rest of options, as composefs-fuse's -o takes them. */
        public static String withSource(Path image, String options) {
            String escaped = image.toString().replace("\\", "\\\\").replace(",", "\\,");
            return "source=" + escaped + (options.isEmpty() ? "" : "," + options);
        }
    }

    private final FuseMount.Connection connection;
    private final FuseServer server;
    private final ObjectFiles objects;

    private FuseService(FuseMount.Connection connection, FuseServer server, ObjectFiles objects) {
        this.connection = connection;
        this.server = server;
        this.objects = objects;
    }

    /** Reads and checks the image, opens the store and mounts; serve() then answers requests. */
    public static FuseService start(Options o, Path mountpoint, PrintStream log) throws IOException {
        byte[] image = InputFiles.read(o.image(), InputFiles.Kind.REGULAR, InputFiles.MAX_IMAGE_SIZE, "image");
        if (o.digest() != null) {
            byte[] actual = FsVerity.of(image);
            if (!Arrays.equals(actual, o.digest())) {
                throw MountException.failed(o.image() + ": fs-verity digest " + HexFormat.of().formatHex(actual)
                        + " is not digest=" + HexFormat.of().formatHex(o.digest()) + "; nothing was mounted", null);
            }
        }
        Directory root = ErofsReader.read(image);
        ObjectFiles objects = new ObjectFiles(o.basedirs(), o.verity(), log);
        boolean admin = Capabilities.sysAdmin(); // mounts without fusermount3, lets others in, registers backing files
        FuseMount.Connection c;
        try {
            c = FuseMount.mount(mountpoint.toAbsolutePath(), admin, o.allowOther() || admin);
        } catch (IOException e) {
            objects.close();
            throw e;
        }
        boolean passthrough = o.passthrough() && admin;
        return new FuseService(c, new FuseServer(c.dev(), root, objects, o.acl(), passthrough, log), objects);
    }

    /** Answers requests until the mount goes (umount, fusermount3 -u, or {@link #stop}). */
    public void serve() throws InterruptedException {
        try {
            server.serve(THREADS);
        } finally {
            unistd_h.closeQuietly(connection.dev());
            objects.close();
        }
    }

    /** Unmounts: serve() returns once the last user of the mount has left it. */
    public void stop() throws IOException {
        FuseMount.unmount(connection);
    }
}
