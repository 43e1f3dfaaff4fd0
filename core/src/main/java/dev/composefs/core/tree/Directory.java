package dev.composefs.core.tree;

import java.util.TreeMap;

/** A directory; entries are kept in strcmp order of their (Latin-1 byte string) names. */
public record Directory(Meta meta, TreeMap<String, Node> entries) implements Node {
    public Directory(Meta meta) {
        this(meta, new TreeMap<>());
    }
}
