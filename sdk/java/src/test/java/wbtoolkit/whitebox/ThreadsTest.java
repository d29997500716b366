package wbtoolkit.whitebox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** One key, many threads; close while others decrypt. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ThreadsTest {
    static final int THREADS = 8;

    @Test
    void manyThreadsOnOneKeyGetTheRightPlaintexts() throws Exception {
        for (Vectors.Case c : Vectors.cases()) {
            if (c.fingerprint() != null && !c.name().endsWith("5000 bytes")) {
                continue;
            }
            try (WhiteboxKey key = WhiteboxKey.load(c.path(), c.fingerprint())) {
                ExecutorService pool = Executors.newFixedThreadPool(THREADS);
                CountDownLatch start = new CountDownLatch(1);
                List<Future<Integer>> done = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int id = t;
                    done.add(pool.submit(() -> {
                        start.await();
                        int n = 0;
                        for (int i = 0; i < 10; i++) {
                            byte[] got = id % 2 == 0 ? key.decrypt(c.ivBytes(), c.ciphertextBytes())
                                    : key.decryptB64(c.iv(), c.ciphertext());
                            assertArrayEquals(c.plaintext(), got, c.name());
                            if (c.encrypts()) {
                                assertArrayEquals(c.ciphertextBytes(), key.encrypt(c.ivBytes(), c.plaintext()));
                            }
                            n++;
                        }
                        return n;
                    }));
                }
                start.countDown(); // all at once: the first long message lays the tables out
                for (Future<Integer> f : done) {
                    assertEquals(10, f.get());
                }
                pool.shutdown();
            }
        }
    }

    @Test
    void ciphersPerThreadShareOneKey() throws Exception {
        Vectors.Case c = Vectors.cases().stream().filter(v -> v.name().endsWith("5000 bytes"))
                .findFirst().orElseThrow();
        try (WhiteboxKey key = WhiteboxKey.load(c.path(), c.fingerprint())) {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                done.add(pool.submit(() -> {
                    try (WhiteboxCipher cipher = WhiteboxCipher.getInstance(c.alg())) {
                        cipher.init(key, c.ivBytes(), Mode.DECRYPT);
                        for (int i = 0; i < 10; i++) {
                            assertArrayEquals(c.plaintext(), cipher.doFinal(c.ciphertextBytes()));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            pool.shutdown();
            assertTrue(!key.isClosed(), "a cipher does not close a key it was given");
        }
    }

    @Test
    void oneShotCallsFromManyThreads() throws Exception {
        List<Vectors.Case> cases = Vectors.cases();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            final int id = t;
            done.add(pool.submit(() -> {
                for (int i = 0; i < cases.size(); i++) {
                    Vectors.Case c = cases.get((i + id) % cases.size());
                    assertArrayEquals(c.plaintext(), Whitebox.whiteboxDecryptWithFingerprint(
                            Vectors.dir().toString(), c.keyFile(), c.iv(), c.ciphertext(),
                            c.algorithm(), c.fingerprint()), c.name());
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get();
        }
        pool.shutdown();
    }

    @Test
    void closeWaitsForCallsInFlightAndLaterCallsFail() throws Exception {
        Vectors.Case c = Vectors.cases().stream().filter(v -> v.name().endsWith("5000 bytes"))
                .findFirst().orElseThrow();
        for (int round = 0; round < 5; round++) {
            WhiteboxKey key = WhiteboxKey.load(c.path(), c.fingerprint());
            AtomicInteger ok = new AtomicInteger();
            AtomicInteger closed = new AtomicInteger();
            CountDownLatch running = new CountDownLatch(THREADS);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                done.add(pool.submit(() -> {
                    running.countDown();
                    while (true) {
                        byte[] got;
                        try {
                            got = key.decrypt(c.ivBytes(), c.ciphertextBytes());
                        } catch (IllegalStateException e) {
                            closed.incrementAndGet();
                            return null;
                        }
                        // A call that returned returned the right plaintext, even if close()
                        // was called meanwhile.
                        assertArrayEquals(c.plaintext(), got);
                        ok.incrementAndGet();
                    }
                }));
            }
            running.await();
            Thread.sleep(50);
            key.close(); // waits for the decryptions in flight, then frees
            assertTrue(key.isClosed());
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS); // any failed assertion resurfaces here
            }
            pool.shutdown();
            assertEquals(THREADS, closed.get(), "every thread saw the key closed");
            assertTrue(ok.get() > 0, "decryptions ran before the close");
            assertThrows(IllegalStateException.class, () -> key.decrypt(c.ivBytes(), c.ciphertextBytes()));
            key.close();
        }
    }
}
