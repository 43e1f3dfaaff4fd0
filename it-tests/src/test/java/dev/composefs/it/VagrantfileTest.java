package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Vagrantfile (the kernel matrix as boxes) passes `vagrant validate`. */
class VagrantfileTest {
    @Test
    void vagrantValidatePasses() throws Exception {
        Cli.Result r = Cli.run(List.of(Cli.repo().resolve("it-tests/vagrant/validate.sh").toString()), null, Map.of());
        assumeTrue(r.exit() != 2, r.stderr());
        assertEquals(0, r.exit(), r.out() + r.stderr());
        assertTrue(r.out().contains("Vagrantfile validated successfully"), r.out());
    }
}
