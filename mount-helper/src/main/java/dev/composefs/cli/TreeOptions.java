package dev.composefs.cli;

import dev.composefs.core.erofs.ErofsWriter;
import picocli.CommandLine.Option;

/**
 * The tree and format options every picocli command that writes an image takes (mkcomposefs
 * parses its own, with upstream's spelling): the same names and meaning as mkcomposefs's.
 */
final class TreeOptions {
    @Option(names = "--use-epoch", description = "all mtimes 0")
    boolean useEpoch;

    @Option(names = "--skip-xattrs", description = "no xattrs")
    boolean skipXattrs;

    @Option(names = "--user-xattrs", description = "only user.* xattrs")
    boolean userXattrs;

    @Option(names = "--min-version", paramLabel = "N", description = "lowest image format version (default 0)")
    Integer minVersion;

    @Option(names = "--max-version", paramLabel = "N", description = "highest image format version (default 1)")
    Integer maxVersion;

    /** The format options, as mkcomposefs takes them; IllegalArgumentException for versions out of range. */
    ErofsWriter.Options format() {
        return ErofsWriter.Options.of(minVersion, maxVersion);
    }
}
