/*
 * Generates random FF1 cases and their ciphertexts computed by Bouncy
 * Castle's FPEFF1Engine (org.bouncycastle.crypto.fpe, NIST SP 800-38G), an
 * implementation independent of ours, for tests/interop/ff1_bc_check.c and
 * the `tokenvault fpe` end-to-end check.
 *
 * usage: java Ff1BouncyCastleCases SEED ITEMS_MIN CASES_FILE CLI_DIR CLI_LINES
 *
 * CASES_FILE, one record per line:
 *   G KEYHEX RADIX COUNT          a group: one key and radix, COUNT items follow
 *   I TWEAKHEX|- PLAINHEX CIPHERHEX   one item; numerals as two hex digits each
 * CLI_DIR gets cli_N.env (shell assignments: options for the CLI), cli_N.plain
 * (one value per line) and cli_N.cipher (Bouncy Castle's results).
 */
import java.io.BufferedWriter;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Random;

import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.fpe.FPEFF1Engine;
import org.bouncycastle.crypto.params.FPEParameters;
import org.bouncycastle.crypto.params.KeyParameter;

public final class Ff1BouncyCastleCases {
  private static final int[] RADIXES = {2, 10, 26, 36, 62, 256};
  private static final int[] KEY_BYTES = {16, 24, 32};
  private static final int TWEAK_BYTES_MAX = 64;
  private static final int LENGTH_MAX = 300;
  private static final int GROUP_ITEMS_MAX = 32;
  private static final String DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz";
  private static final String ALNUM62 =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  private static final String LOWER26 = "abcdefghijklmnopqrstuvwxyz";

  private final Random random;

  private Ff1BouncyCastleCases(long seed) {
    this.random = new Random(seed);
  }

  /** Smallest length with radix^length >= 1,000,000 (the NIST domain floor). */
  static int lengthMin(int radix) {
    int length = 1;
    for (long domain = radix; domain < 1_000_000L; domain *= radix) {
      length++;
    }
    return length;
  }

  static byte[] ff1(boolean encrypt, byte[] key, int radix, byte[] tweak, byte[] in) {
    FPEFF1Engine engine = new FPEFF1Engine(new AESEngine());
    engine.init(encrypt, new FPEParameters(new KeyParameter(key), radix, tweak));
    byte[] out = new byte[in.length];
    engine.processBlock(in, 0, in.length, out, 0);
    return out;
  }

  /** Bouncy Castle's ciphertext, after checking that it decrypts back. */
  static byte[] encryptChecked(byte[] key, int radix, byte[] tweak, byte[] plain) {
    byte[] cipher = ff1(true, key, radix, tweak, plain);
    if (!Arrays.equals(ff1(false, key, radix, tweak, cipher), plain)) {
      throw new IllegalStateException("Bouncy Castle does not invert its own FF1");
    }
    return cipher;
  }

  static String hex(byte[] bytes) {
    StringBuilder sb = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) {
      sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    }
    return sb.toString();
  }

  private byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  /**
   * Whether Bouncy Castle 1.72 computes FF1's b (bytes of NUM_radix(B) in
   * Q, step 3 of Algorithm 7) as SP 800-38G defines it for a right half of
   * v numerals. It computes ceil(v * log2(radix)) in floating point, which
   * for power-of-two radixes lands one above the exact integer for some v
   * (radix 256: v = 29, 31, 47, 58, 62, 93, ...), and then its ciphertexts
   * differ from the standard's. Those shapes cannot be cross-checked here;
   * the exact b is checked through BigInteger.
   */
  static boolean bouncyCastleFollowsSpec(int radix, int v) {
    int bcBits = (int) Math.ceil(Math.log(radix) * v / Math.log(2.0));
    int exactBits = BigInteger.valueOf(radix).pow(v).subtract(BigInteger.ONE).bitLength();
    return (bcBits + 7) / 8 == (exactBits + 7) / 8;
  }

  private int skippedLengths;

  /** Mostly near the minimum (where the 64-bit fast paths and their edges
   * are), some anywhere up to LENGTH_MAX; never a length Bouncy Castle gets
   * wrong. */
  private int randomLength(int radix) {
    int min = lengthMin(radix);
    for (;;) {
      int length = random.nextInt(10) < 7 ? min + random.nextInt(40)
                                          : min + random.nextInt(LENGTH_MAX - min + 1);
      if (bouncyCastleFollowsSpec(radix, length - length / 2)) {
        return length;
      }
      skippedLengths++;
    }
  }

  private int randomTweakLength() {
    return random.nextInt(6) == 0 ? 0 : random.nextInt(TWEAK_BYTES_MAX + 1);
  }

  private byte[] randomNumerals(int radix, int length) {
    byte[] numerals = new byte[length];
    for (int i = 0; i < length; i++) {
      numerals[i] = (byte) random.nextInt(radix);
    }
    return numerals;
  }

  /** Groups until at least itemsMin items. Half the groups share one
   * length and tweak length across their items (the batch fast path), the
   * other half mix them. */
  private int writeCases(Path file, int itemsMin) throws IOException {
    int items = 0;
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII)) {
      while (items < itemsMin) {
        byte[] key = randomBytes(KEY_BYTES[random.nextInt(KEY_BYTES.length)]);
        int radix = RADIXES[random.nextInt(RADIXES.length)];
        int count = 1 + random.nextInt(GROUP_ITEMS_MAX);
        boolean uniform = random.nextBoolean();
        int length = randomLength(radix);
        int tweakLength = randomTweakLength();
        w.write("G " + hex(key) + " " + radix + " " + count + "\n");
        for (int i = 0; i < count; i++) {
          int n = uniform ? length : randomLength(radix);
          byte[] tweak = randomBytes(uniform ? tweakLength : randomTweakLength());
          byte[] plain = randomNumerals(radix, n);
          byte[] cipher = encryptChecked(key, radix, tweak, plain);
          String tweakHex = tweak.length == 0 ? "-" : hex(tweak);
          w.write("I " + tweakHex + " " + hex(plain) + " " + hex(cipher) + "\n");
        }
        items += count;
      }
    }
    return items;
  }

  /** One CLI configuration: alphabet, how the key is passed, line endings. */
  private void writeCliConfig(Path dir, int index, String alphabet, boolean radixOption,
      int keyBytes, int tweakBytes, String keySource, boolean crlf, int lines) throws IOException {
    int radix = alphabet.length();
    byte[] key = randomBytes(keyBytes);
    byte[] tweak = randomBytes(tweakBytes);
    String eol = crlf ? "\r\n" : "\n";
    StringBuilder plainText = new StringBuilder();
    StringBuilder cipherText = new StringBuilder();
    for (int i = 0; i < lines; i++) {
      byte[] plain = randomNumerals(radix, randomLength(radix));
      byte[] cipher = encryptChecked(key, radix, tweak, plain);
      for (byte b : plain) {
        plainText.append(alphabet.charAt(b & 0xff));
      }
      for (byte b : cipher) {
        cipherText.append(alphabet.charAt(b & 0xff));
      }
      plainText.append(eol);
      cipherText.append(eol);
    }
    String prefix = "cli_" + index;
    Files.writeString(dir.resolve(prefix + ".plain"), plainText, StandardCharsets.US_ASCII);
    Files.writeString(dir.resolve(prefix + ".cipher"), cipherText, StandardCharsets.US_ASCII);
    String env = "KEY=" + hex(key) + "\n"
        + "TWEAK=" + hex(tweak) + "\n"
        + "KEY_SOURCE=" + keySource + "\n"
        + "ALPHABET_OPTION=" + (radixOption ? "--radix" : "--alphabet") + "\n"
        + "ALPHABET_VALUE=" + (radixOption ? Integer.toString(radix) : alphabet) + "\n";
    Files.writeString(dir.resolve(prefix + ".env"), env, StandardCharsets.US_ASCII);
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 5) {
      System.err.println("usage: Ff1BouncyCastleCases SEED ITEMS_MIN CASES_FILE CLI_DIR CLI_LINES");
      System.exit(2);
    }
    long seed = Long.parseLong(args[0]);
    int itemsMin = Integer.parseInt(args[1]);
    Path cliDir = Paths.get(args[3]);
    int cliLines = Integer.parseInt(args[4]);
    Ff1BouncyCastleCases gen = new Ff1BouncyCastleCases(seed);
    int items = gen.writeCases(Paths.get(args[2]), itemsMin);
    Files.createDirectories(cliDir);
    gen.writeCliConfig(cliDir, 1, DIGITS36.substring(0, 10), true, 16, 8, "arg", false, cliLines);
    gen.writeCliConfig(cliDir, 2, DIGITS36, true, 24, 0, "file", false, cliLines);
    gen.writeCliConfig(cliDir, 3, LOWER26, false, 32, 64, "env", true, cliLines);
    gen.writeCliConfig(cliDir, 4, ALNUM62, false, 32, 17, "arg", false, cliLines);
    gen.writeCliConfig(cliDir, 5, DIGITS36.substring(0, 2), true, 16, 3, "file", true, cliLines);
    System.out.println("Bouncy Castle FF1: " + items + " cases, 5 CLI files of " + cliLines
        + " lines, seed " + seed + " (" + gen.skippedLengths
        + " draws of a length where Bouncy Castle deviates from SP 800-38G redrawn)");
  }
}
