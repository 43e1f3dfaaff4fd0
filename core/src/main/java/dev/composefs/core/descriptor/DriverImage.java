package dev.composefs.core.descriptor;

import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.TreeException;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the kernel composefs driver mounts for an image: the image's tree with every inline
 * file moved out to a content-addressed object (a descriptor holds no file content), written as
 * a descriptor. Pure and deterministic, so a store's upkeep can tell which cached descriptors
 * and inline-content objects an image needs without mounting it.
 */
public record DriverImage(Directory tree, Map<String, byte[]> inlineObjects, byte[] descriptor, byte[] digest) {

    /** The image's tree as the driver shows it; inlineObjects maps each new payload to its content. */
    public static DriverImage of(Directory image) throws TreeException {
        Map<String, byte[]> objects = new LinkedHashMap<>();
        Directory tree = (Directory) convert(image, new IdentityHashMap<>(), objects);
        byte[] descriptor = DescriptorWriter.write(tree);
        return new DriverImage(tree, objects, descriptor, FsVerity.of(descriptor));
    }

    /** The name of this descriptor in a store's cache: the hex of its fs-verity digest. */
    public String name() {
        return FsVerity.hex(digest);
    }

    private static Node convert(Node n, Map<Node, Node> done, Map<String, byte[]> objects) {
        Node known = done.get(n);
        if (known != null) {
            return known;
        }
        Node out = switch (n) {
            case Directory d -> {
                Directory c = new Directory(d.meta());
                done.put(n, c);
                for (var e : d.entries().entrySet()) {
                    c.entries().put(e.getKey(), convert(e.getValue(), done, objects));
                }
                yield c;
            }
            case Hardlink h -> new Hardlink(convert(h.target(), done, objects));
            case RegularFile f when f.content() != null && f.size() > 0 -> {
                byte[] digest = FsVerity.of(f.content());
                String payload = ObjectStore.objectPath(digest);
                objects.putIfAbsent(payload, f.content());
                yield new RegularFile(f.meta(), f.size(), null, payload, digest);
            }
            default -> n;
        };
        done.put(n, out);
        return out;
    }
}
