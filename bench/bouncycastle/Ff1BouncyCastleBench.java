/*
 * Times Bouncy Castle's FF1 (FPEFF1Engine, Debian's libbcprov-java) on the
 * cases of bench/ff1_bench.c, so bench/compare_bouncycastle.sh can print
 * our speed as a ratio to an independent implementation measured in the
 * same run on the same machine.
 *
 * usage: java Ff1BouncyCastleBench SECONDS
 * Prints one JSON object per line: case, impl "bouncycastle", mode
 * "single", ns_per_op, ops_per_s (median of five timed runs, after a
 * warm-up run so the JIT has compiled the hot paths).
 */
import java.util.Arrays;
import java.util.Random;

import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.fpe.FPEFF1Engine;
import org.bouncycastle.crypto.params.FPEParameters;
import org.bouncycastle.crypto.params.KeyParameter;

public final class Ff1BouncyCastleBench {
  private static final int INPUTS = 1024;
  private static final int TWEAK_BYTES = 8;
  private static final int REPS = 5;

  private static final String[] NAMES = {"pan16_keep6_4", "pan16_full", "iban_de_account", "base36_20"};
  private static final int[] RADIXES = {10, 10, 10, 36};
  private static final int[] LENGTHS = {6, 16, 10, 20};

  private static volatile int sink;

  public static void main(String[] args) {
    double seconds = Double.parseDouble(args[0]);
    Random random = new Random(1);
    byte[] key = new byte[32];
    random.nextBytes(key);
    for (int c = 0; c < NAMES.length; c++) {
      byte[][] inputs = new byte[INPUTS][LENGTHS[c]];
      byte[][] tweaks = new byte[INPUTS][TWEAK_BYTES];
      for (int i = 0; i < INPUTS; i++) {
        for (int j = 0; j < LENGTHS[c]; j++) {
          inputs[i][j] = (byte) random.nextInt(RADIXES[c]);
        }
        random.nextBytes(tweaks[i]);
      }
      for (int fixedTweak = 0; fixedTweak < 2; fixedTweak++) {
        timeOnce(key, RADIXES[c], inputs, tweaks, seconds, fixedTweak == 1); // JIT warm-up
        double[] runs = new double[REPS];
        for (int r = 0; r < REPS; r++) {
          runs[r] = timeOnce(key, RADIXES[c], inputs, tweaks, seconds, fixedTweak == 1);
        }
        Arrays.sort(runs);
        double ns = runs[REPS / 2];
        System.out.printf("{\"case\":\"%s\",\"impl\":\"bouncycastle\",\"mode\":\"%s\","
            + "\"ns_per_op\":%.1f,\"ops_per_s\":%.0f}%n", NAMES[c],
            fixedTweak == 1 ? "single_one_tweak" : "single", ns, 1e9 / ns);
      }
    }
  }

  /* With a per-value tweak (as the vault uses) init runs for every value,
   * since FPEParameters carries the tweak; with |oneTweak| every value
   * shares the first tweak and init runs once: Bouncy Castle's best case. */
  private static double timeOnce(byte[] key, int radix, byte[][] inputs, byte[][] tweaks,
      double seconds, boolean oneTweak) {
    long done = 0;
    long start = System.nanoTime();
    long limit = start + (long) (seconds * 1e9);
    long now;
    FPEFF1Engine engine = new FPEFF1Engine(new AESEngine());
    engine.init(true, new FPEParameters(new KeyParameter(key), radix, tweaks[0]));
    do {
      for (int i = 0; i < INPUTS; i++) {
        byte[] out = new byte[inputs[i].length];
        if (!oneTweak) {
          engine.init(true, new FPEParameters(new KeyParameter(key), radix, tweaks[i]));
        }
        engine.processBlock(inputs[i], 0, inputs[i].length, out, 0);
        sink ^= out[0];
      }
      done += INPUTS;
      now = System.nanoTime();
    } while (now < limit);
    return (double) (now - start) / done;
  }
}
