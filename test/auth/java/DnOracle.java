import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import javax.security.auth.x500.X500Principal;

/**
 * DN oracle for test/auth/dn-oracle.test.ts. Reads lines "<id> D <base64 Name DER>" or
 * "<id> C <base64 certificate DER>" on stdin and prints one JSON object per line:
 * {"id":..,"rfc2253":..,"to_string":..,"canonical":..} or {"id":..,"error":..}.
 * The first output line is {"java_version":..}. Every non-ASCII / control character is written
 * as a \\uXXXX escape so that lone surrogates survive the trip.
 */
public class DnOracle {
    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        out.append("{\"java_version\":").append(json(System.getProperty("java.runtime.version")))
            .append(",\"java_vendor\":").append(json(System.getProperty("java.vendor"))).append("}\n");
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] parts = line.split(" ", 3);
            String id = parts[0];
            try {
                byte[] bytes = Base64.getDecoder().decode(parts[2]);
                X500Principal p;
                if (parts[1].equals("C")) {
                    X509Certificate cert = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(bytes));
                    p = cert.getSubjectX500Principal();
                } else {
                    p = new X500Principal(bytes);
                }
                out.append("{\"id\":").append(json(id))
                    .append(",\"rfc2253\":").append(json(p.getName(X500Principal.RFC2253)))
                    .append(",\"to_string\":").append(json(p.toString()))
                    .append(",\"canonical\":").append(json(p.getName(X500Principal.CANONICAL)))
                    .append("}\n");
            } catch (Exception e) {
                out.append("{\"id\":").append(json(id)).append(",\"error\":").append(json(e.toString())).append("}\n");
            }
        }
        System.out.write(out.toString().getBytes(StandardCharsets.US_ASCII));
        System.out.flush();
    }

    static String json(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c >= 0x20 && c < 0x7f) b.append(c);
            else b.append(String.format("\\u%04x", (int) c));
        }
        return b.append('"').toString();
    }
}
