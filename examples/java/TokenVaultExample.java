/*
 * Tokenize a card number and reveal it masked over tokenvault's HTTP/JSON
 * API with a client certificate, using only the JDK (11 or later):
 * java.net.http.HttpClient, an in-memory KeyStore for the client
 * certificate and key, an in-memory trust store for the vault's CA.
 *
 *   javac -d out examples/java/TokenVaultExample.java
 *   printf '4111111111111111\n' | java -cp out TokenVaultExample https://localhost:8443 ca.crt crm.crt crm.key
 *
 * The card number is read from standard input, never from the command
 * line (argv is visible to every user of the machine in ps). The files are
 * PEM: the CA that issued the vault's server certificate, the client
 * certificate (optionally followed by its intermediates) and its
 * unencrypted PKCS#8 private key ("BEGIN PRIVATE KEY", what `openssl req
 * -nodes` and make-certs write; convert an "EC PRIVATE KEY" or "RSA
 * PRIVATE KEY" file with `openssl pkcs8 -topk8 -nocrypt -in crm.key -out
 * crm.pk8.key`). Prints the token and the masked reveal, never the card
 * number; exits 1 with the vault's problem answer when a call is refused.
 *
 * The JSON handling is deliberately minimal so the example needs nothing
 * but the JDK; production code would use its JSON library (Jackson, Gson).
 */

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public final class TokenVaultExample {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final String PKCS8_BEGIN = "-----BEGIN PRIVATE KEY-----";
    private static final String PKCS8_END = "-----END PRIVATE KEY-----";

    private TokenVaultExample() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 4) {
            System.err.println("usage: java TokenVaultExample BASE_URL CA_PEM CLIENT_CERT_PEM CLIENT_KEY_PEM"
                    + " < card_number");
            System.exit(2);
        }
        try {
            run(args);
        } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
            System.err.println("error: " + e);  // files, TLS handshake, connection: the JDK's reason
            System.exit(1);
        }
    }

    private static void run(String[] args) throws IOException, GeneralSecurityException, InterruptedException {
        String baseUrl = args[0].replaceAll("/+$", "");
        String cardNumber = readCardNumber();
        HttpClient client = HttpClient.newBuilder()
                .sslContext(mtlsContext(Path.of(args[1]), Path.of(args[2]), Path.of(args[3])))
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(TIMEOUT)
                .build();

        String token = firstResult(post(client, baseUrl + "/v1/tokenize",
                "{\"namespace\":\"pan\",\"values\":[" + jsonString(cardNumber) + "]}"), "token");
        System.out.println("token " + token);
        String masked = firstResult(post(client, baseUrl + "/v1/detokenize",
                "{\"namespace\":\"pan\",\"tokens\":[" + jsonString(token) + "],\"reveal\":\"REVEAL_MASKED\"}"),
                "value");
        System.out.println("masked " + masked);
    }

    /** One line of digits from standard input (spaces allowed for readability). */
    private static String readCardNumber() throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line = in.readLine();
        String digits = line == null ? "" : line.replace(" ", "");
        if (!digits.matches("[0-9]{12,19}")) {
            throw new IllegalArgumentException("standard input must hold a card number: 12 to 19 digits");
        }
        return digits;
    }

    /**
     * TLS that presents the client certificate and trusts only the vault's
     * CA. The key store lives in memory only; its password exists because
     * the KeyStore API wants one, so it is random and never leaves the process.
     */
    static SSLContext mtlsContext(Path caPem, Path certPem, Path keyPem) throws IOException, GeneralSecurityException {
        Certificate[] chain = readCertificates(certPem).toArray(new Certificate[0]);
        if (chain.length == 0) {
            throw new GeneralSecurityException(certPem + ": no certificate in the file");
        }
        char[] password = new char[32];
        SecureRandom random = new SecureRandom();
        for (int i = 0; i < password.length; i++) {
            password[i] = (char) ('a' + random.nextInt(26));
        }
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("client", readPkcs8Key(keyPem), password, chain);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, password);
        Arrays.fill(password, '\0');

        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        int n = 0;
        for (Certificate ca : readCertificates(caPem)) {
            trust.setCertificateEntry("ca-" + n++, ca);
        }
        if (n == 0) {
            throw new GeneralSecurityException(caPem + ": no CA certificate in the file");
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);

        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    private static Collection<? extends Certificate> readCertificates(Path pem)
            throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(pem)) {
            return CertificateFactory.getInstance("X.509").generateCertificates(in);
        }
    }

    /** An unencrypted PKCS#8 PEM key, EC or RSA (the JDK has no PEM reader: base64 between the markers). */
    private static PrivateKey readPkcs8Key(Path pem) throws IOException, GeneralSecurityException {
        String text = Files.readString(pem, StandardCharsets.US_ASCII);
        int begin = text.indexOf(PKCS8_BEGIN);
        int end = text.indexOf(PKCS8_END);
        if (begin < 0 || end < begin) {
            throw new GeneralSecurityException(pem + ": not an unencrypted PKCS#8 PEM key (\"" + PKCS8_BEGIN
                    + "\"); convert it with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8");
        }
        byte[] der = Base64.getMimeDecoder().decode(text.substring(begin + PKCS8_BEGIN.length(), end));
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        try {
            for (String algorithm : new String[] {"EC", "RSA"}) {
                try {
                    return KeyFactory.getInstance(algorithm).generatePrivate(spec);
                } catch (GeneralSecurityException notThisAlgorithm) {
                    // try the next one
                }
            }
            throw new GeneralSecurityException(pem + ": the key is neither EC nor RSA");
        } finally {
            Arrays.fill(der, (byte) 0);
        }
    }

    /** POSTs JSON; returns the body of a 200 answer, else exits 1 with the problem answer. */
    private static String post(HttpClient client, String url, String json) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                .timeout(TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            System.err.println(url + ": HTTP " + response.statusCode() + " " + response.body());
            System.exit(1);
        }
        return response.body();
    }

    /**
     * The string |field| of the first item of "results", after checking
     * that item's status is OK (a batch answers 200 with per-item statuses).
     */
    private static String firstResult(String body, String field) {
        Matcher item = Pattern.compile("\"results\":\\[\\{(.*?\"status\":\\{[^}]*\\})").matcher(body);
        Matcher code = Pattern.compile("\"status\":\\{\"code\":(\\d+)").matcher(item.find() ? item.group(1) : "");
        if (!code.find() || !code.group(1).equals("0")) {
            System.err.println("the item was refused: " + body);
            System.exit(1);
        }
        Matcher value = Pattern.compile("\"" + field + "\":\"([^\"\\\\]*)\"").matcher(item.group(1));
        if (!value.find()) {
            System.err.println("no \"" + field + "\" in the answer: " + body);
            System.exit(1);
        }
        return value.group(1);
    }

    /** A JSON string literal; the inputs here are digits, escaping is for safety. */
    private static String jsonString(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
