package dev.composefs.core.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a container's annotations may ask root to mount, under the administrator's policy. */
class HookPolicyTest {
    @TempDir
    Path tmp;

    Path allowed;
    Path image;
    Path store;

    @BeforeEach
    void tree() throws Exception {
        allowed = Files.createDirectories(tmp.resolve("cfs"));
        image = Files.writeString(allowed.resolve("app.cfs"), "image");
        store = Files.createDirectories(allowed.resolve("objects"));
    }

    private HookPolicy policy(String json) throws Exception {
        return HookPolicy.parse(json.getBytes(StandardCharsets.UTF_8), "/etc/composefs/oci-hook.json");
    }

    private HookPolicy allowing() throws Exception {
        return policy("{\"allowedPaths\": [\"" + allowed + "\"]}");
    }

    private Map<String, Object> annotations(String... more) {
        Map<String, Object> a = new LinkedHashMap<>(Map.of("org.composefs.image", image.toString(),
                "org.composefs.basedir", store.toString()));
        for (int i = 0; i < more.length; i += 2) {
            a.put(more[i], more[i + 1]);
        }
        return a;
    }

    private String refused(HookPolicy p, Map<String, Object> a) {
        return assertThrows(HookPolicy.Refused.class, () -> p.check(a, null)).getMessage();
    }

    @Test
    void pathsBelowAnAllowedDirectoryMount() throws Exception {
        Path sig = Files.writeString(allowed.resolve("app.sig"), "sig");
        HookPolicy p = policy("{\"allowedPaths\": [\"" + allowed + "\"], \"trust\": \"/etc/cfs-trust\"}");
        HookPolicy.Request r = p.check(annotations("org.composefs.digest", "ab".repeat(32), "org.composefs.signature",
                sig.toString(), "org.composefs.options", "ro,tryverity", "org.composefs.target", "/opt/app"),
                Path.of("/proc/42/ns/user"));
        assertEquals(image.toRealPath(), r.image());
        assertEquals("basedir=" + store.toRealPath() + ",digest=" + "ab".repeat(32) + ",signature=" + sig.toRealPath()
                + ",trust=/etc/cfs-trust,idmap=/proc/42/ns/user,ro,tryverity", r.options());
        assertEquals("/opt/app", r.target());
    }

    @Test
    void aPathOutsideTheAllowedOnesIsRefusedAfterItsSymlinksAreResolved() throws Exception {
        HookPolicy p = allowing();
        assertEquals("annotation org.composefs.basedir: / is not below a path the policy allows",
                refused(p, annotations("org.composefs.basedir", "/")));
        Path outside = Files.writeString(tmp.resolve("elsewhere.cfs"), "x");
        Path link = Files.createSymbolicLink(allowed.resolve("link.cfs"), outside);
        assertEquals("annotation org.composefs.image: " + link + " (" + outside.toRealPath()
                + ") is not below a path the policy allows", refused(p, annotations("org.composefs.image", link.toString())));
        assertEquals("annotation org.composefs.image: " + allowed + "/../elsewhere.cfs (" + outside.toRealPath()
                + ") is not below a path the policy allows",
                refused(p, annotations("org.composefs.image", allowed + "/../elsewhere.cfs")));
        assertEquals("annotation org.composefs.basedir: " + tmp + " is not below a path the policy allows",
                refused(p, annotations("org.composefs.basedir", store + ":" + tmp)));
        assertEquals("annotation org.composefs.image: app.cfs is not an absolute path",
                refused(p, annotations("org.composefs.image", "app.cfs")));
        assertEquals("annotation org.composefs.image: " + allowed + "/missing.cfs: ENOENT (No such file or directory)",
                refused(p, annotations("org.composefs.image", allowed + "/missing.cfs")));
    }

    @Test
    void annotationsSetOnlyTheOptionsThePolicyAllows() throws Exception {
        HookPolicy p = allowing();
        for (String o : List.of("upperdir=" + allowed + ",workdir=" + allowed, "basedir=/", "workdir=/x", "trust=/",
                "idmap=/proc/1/ns/user", "nosuid")) {
            String key = o.substring(0, o.contains("=") ? o.indexOf('=') : o.length());
            assertEquals("annotation org.composefs.options: " + key + " is not allowed by the policy (allowedOptions: "
                    + String.join(", ", p.allowedOptions()) + ")", refused(p, annotations("org.composefs.options", o)));
        }
        // a trailing backslash cannot escape the comma the hook would add next
        assertEquals("annotation org.composefs.options: tryverity\\ is not allowed by the policy (allowedOptions: "
                + String.join(", ", p.allowedOptions()) + ")", refused(p, annotations("org.composefs.options", "tryverity\\")));
        HookPolicy wide = policy("{\"allowedPaths\": [\"" + allowed + "\"], \"allowedOptions\": [\"ro\", \"nosuid\", \"x-a\"]}");
        assertEquals("basedir=" + store.toRealPath() + ",nosuid,x-a=b\\,c", wide.check(annotations("org.composefs.options",
                "nosuid,x-a=b\\,c"), null).options());
    }

    @Test
    void trustComesFromThePolicyOnlyAndASignatureCanBeRequired() throws Exception {
        assertEquals("annotation org.composefs.trust is refused: trust anchors come from the policy only",
                refused(allowing(), annotations("org.composefs.trust", allowed.toString())));
        HookPolicy strict = policy("{\"allowedPaths\": [\"" + allowed + "\"], \"requireSignature\": true}");
        assertEquals("the policy requires a signature: annotation org.composefs.signature is missing",
                refused(strict, annotations()));
    }

    @Test
    void storePathsWithColonsAndCommasKeepTheirMeaning() throws Exception {
        Path odd = Files.createDirectories(allowed.resolve("a:b,c"));
        HookPolicy.Request r = allowing().check(annotations("org.composefs.basedir", allowed + "/a\\:b,c:" + store), null);
        assertEquals("basedir=" + allowed.toRealPath() + "/a\\:b\\,c:" + store.toRealPath(), r.options());
        assertEquals(odd.toRealPath(), Path.of(allowed.toRealPath() + "/a:b,c"));
    }

    @Test
    void aPolicyThatIsNotWhatItShouldBeIsRefusedNamingTheFile() {
        String f = "/etc/composefs/oci-hook.json: ";
        String[][] cases = {
            {"[]", f + "not valid JSON: "},
            {"{\"allowedpaths\": []}", f + "unknown key \"allowedpaths\" (allowedPaths, allowedOptions, trust, requireSignature)"},
            {"{\"allowedPaths\": \"/srv\"}", f + "allowedPaths: not a list of strings"},
            {"{\"allowedPaths\": [\"srv\"]}", f + "allowedPaths: srv is not an absolute path"},
            {"{\"allowedPaths\": [\"/nonexistent-dir\"]}", f + "allowedPaths: /nonexistent-dir: ENOENT (No such file or directory)"},
            {"{\"allowedOptions\": [\"upperdir\"]}", f + "allowedOptions: upperdir= cannot be left to annotations (paths and trust are the policy's)"},
            {"{\"trust\": \"trust.d\"}", f + "trust: not an absolute path"},
            {"{\"requireSignature\": \"yes\"}", f + "requireSignature: not true or false"},
        };
        for (String[] c : cases) {
            String message = assertThrows(HookPolicy.Refused.class, () -> policy(c[0])).getMessage();
            assertEquals(true, message.startsWith(c[1]), c[0] + ": " + message);
        }
    }

    @Test
    void withoutAllowedOptionsTheDefaultsApply() throws Exception {
        assertEquals(Set.of("ro", "verity", "tryverity", "noatime"), allowing().allowedOptions());
    }
}
