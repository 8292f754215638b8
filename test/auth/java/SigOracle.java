import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Signature / header oracle for the auth tests (test/auth/signature*.test.ts, chain*.test.ts,
 * credentials*.test.ts). One request per stdin line, tab separated; one answer per line:
 *
 *   sign    id alg pkcs8B64 keyAlg payloadB64   -> id ok sigB64
 *   verify  id alg certB64 payloadB64 sigB64     -> id ok true|false   (Signature.initVerify(cert))
 *   trust   id caB64[,caB64..] chainB64[,..]     -> id ok              (PKIX checkClientTrusted + leaf.checkValidity)
 *   cred    id headerUtf16Hex                    -> id ok idUtf16Hex secretLength
 *
 * Any failure prints "id error <class>: <message>". The first line is "java <version>".
 * `trust` reproduces CrossClusterApiKeySignatureManager.Verifier.verify steps 2 and 3; `cred`
 * reproduces Authenticator.extractCredentialFromHeaderValue + ApiKeyCredentials.parse for
 * cross-cluster keys.
 */
public class SigOracle {
    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        out.append("java\t").append(System.getProperty("java.runtime.version")).append('\n');
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            String id = f[1];
            try {
                String result = switch (f[0]) {
                    case "sign" -> sign(f[2], f[3], f[4], f[5]);
                    case "verify" -> verify(f[2], f[3], f[4], f[5]);
                    case "trust" -> trust(f[2], f[3]);
                    case "cred" -> cred(f[2]);
                    default -> throw new IllegalArgumentException("unknown op " + f[0]);
                };
                out.append(id).append("\tok").append(result.isEmpty() ? "" : "\t" + result).append('\n');
            } catch (Exception e) {
                Throwable root = e;
                while (root.getCause() != null && root.getCause() != root) root = root.getCause();
                String msg = (e.getClass().getName() + ": " + e.getMessage() + " | root " + root.getClass().getName() + ": " + root.getMessage())
                    .replace('\n', ' ').replace('\t', ' ');
                out.append(id).append("\terror\t").append(msg).append('\n');
            }
        }
        System.out.write(out.toString().getBytes(StandardCharsets.UTF_8));
        System.out.flush();
    }

    static byte[] b64(String s) {
        return Base64.getDecoder().decode(s);
    }

    static X509Certificate cert(String b64) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(b64(b64)));
    }

    static String sign(String alg, String pkcs8, String keyAlg, String payload) throws Exception {
        PrivateKey key = KeyFactory.getInstance(keyAlg).generatePrivate(new PKCS8EncodedKeySpec(b64(pkcs8)));
        Signature s = Signature.getInstance(alg);
        s.initSign(key);
        s.update(b64(payload));
        return Base64.getEncoder().encodeToString(s.sign());
    }

    static String verify(String alg, String certB64, String payload, String sig) throws Exception {
        Signature s = Signature.getInstance(alg);
        s.initVerify(cert(certB64));
        s.update(b64(payload));
        return Boolean.toString(s.verify(b64(sig)));
    }

    static String trust(String cas, String chainB64) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        int i = 0;
        for (String ca : cas.split(",")) {
            if (!ca.isEmpty()) ks.setCertificateEntry("ca" + (i++), cert(ca));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        X509TrustManager tm = null;
        for (TrustManager t : tmf.getTrustManagers()) {
            if (t instanceof X509TrustManager x) tm = x;
        }
        String[] parts = chainB64.split(",");
        X509Certificate[] chain = new X509Certificate[parts.length];
        for (int j = 0; j < parts.length; j++) chain[j] = cert(parts[j]);
        tm.checkClientTrusted(chain, chain[0].getPublicKey().getAlgorithm());
        chain[0].checkValidity();
        return "";
    }

    static String cred(String headerHex) throws Exception {
        char[] hc = new char[headerHex.length() / 4];
        for (int j = 0; j < hc.length; j++) hc[j] = (char) Integer.parseInt(headerHex.substring(j * 4, j * 4 + 4), 16);
        String header = new String(hc);
        String prefixWithSpace = "ApiKey ";
        if (!(header.regionMatches(true, 0, prefixWithSpace, 0, prefixWithSpace.length()) && header.length() > prefixWithSpace.length())) {
            throw new NullPointerException("missing_prefix");
        }
        char[] apiKey = header.substring(prefixWithSpace.length()).toCharArray();
        if (apiKey.length == 0) throw new IllegalArgumentException("api key is empty");
        ByteBuffer utf8 = StandardCharsets.UTF_8.encode(CharBuffer.wrap(apiKey));
        byte[] encodedBytes = Arrays.copyOfRange(utf8.array(), utf8.position(), utf8.limit());
        byte[] decoded = Base64.getDecoder().decode(encodedBytes);
        CharBuffer cb = StandardCharsets.UTF_8.decode(ByteBuffer.wrap(decoded));
        char[] chars = Arrays.copyOfRange(cb.array(), cb.position(), cb.limit());
        int colon = -1;
        for (int j = 0; j < chars.length; j++) {
            if (chars[j] == ':') {
                colon = j;
                break;
            }
        }
        if (colon < 1) throw new IllegalArgumentException("invalid ApiKey value");
        if (chars.length - (colon + 1) != 22) throw new IllegalArgumentException("invalid cross-cluster API key value");
        StringBuilder idHex = new StringBuilder();
        for (int j = 0; j < colon; j++) idHex.append(String.format("%04x", (int) chars[j]));
        return idHex + "\t" + (chars.length - colon - 1);
    }
}
