// Differential-test oracle for src/auth/jregex.ts (run as `java RegexOracle.java`, no javac step).
//
// Protocol: one JSON object per input line, one JSON object per output line, in order.
//   in : {"pattern":"...","subjects":["...", ...]}
//   out: {"valid":true,"matches":[true,false,...]}
//        {"valid":false,"error":"<PatternSyntaxException.getDescription()>","index":<getIndex()>}
//        {"valid":true,"matches":[...,null,...],"failures":["<Throwable class>",...]}  (a subject whose
//        matches() threw, e.g. StackOverflowError, yields null)
// The first output line is {"java_version":"<java.runtime.version>","unicode":"<probe>"}.
// Strings are JSON with every non-ASCII UTF-16 code unit escaped as \\uXXXX in both directions, so
// lone surrogates survive the round trip; the tiny JSON reader/writer is hand-written (no libraries).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

public class RegexOracle {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);
        out.println("{\"java_version\":" + quote(System.getProperty("java.runtime.version")) + "}");
        out.flush();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            Parser p = new Parser(line);
            String pattern = null;
            List<String> subjects = new ArrayList<>();
            p.expect('{');
            if (!p.peekIs('}')) {
                do {
                    String key = p.string();
                    p.expect(':');
                    if (key.equals("pattern")) pattern = p.string();
                    else if (key.equals("subjects")) subjects = p.stringArray();
                    else if (key.equals("subject")) subjects.add(p.string());
                    else throw new IllegalArgumentException("unknown key " + key);
                } while (p.optional(','));
            }
            p.expect('}');
            out.println(run(pattern, subjects));
            out.flush();
        }
    }

    static String run(String pattern, List<String> subjects) {
        Pattern compiled;
        try {
            compiled = Pattern.compile(pattern);
        } catch (PatternSyntaxException e) {
            return "{\"valid\":false,\"error\":" + quote(e.getDescription()) + ",\"index\":" + e.getIndex() + "}";
        } catch (Throwable t) {
            return "{\"valid\":false,\"error\":" + quote(t.getClass().getName()) + ",\"index\":-1,\"crash\":true}";
        }
        StringBuilder sb = new StringBuilder("{\"valid\":true,\"matches\":[");
        StringBuilder failures = new StringBuilder();
        for (int i = 0; i < subjects.size(); i++) {
            if (i > 0) sb.append(',');
            try {
                Matcher m = compiled.matcher(subjects.get(i));
                sb.append(m.matches());
            } catch (Throwable t) {
                sb.append("null");
                if (failures.length() > 0) failures.append(',');
                failures.append(quote(t.getClass().getName()));
            }
        }
        sb.append(']');
        if (failures.length() > 0) sb.append(",\"failures\":[").append(failures).append(']');
        return sb.append('}').toString();
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') sb.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return sb.append('"').toString();
    }

    /** Minimal JSON reader: objects are handled by the caller; strings and arrays of strings here. */
    static final class Parser {
        private final String s;
        private int i;
        Parser(String s) { this.s = s; }
        void ws() { while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++; }
        boolean peekIs(char c) { ws(); return i < s.length() && s.charAt(i) == c; }
        boolean optional(char c) { if (peekIs(c)) { i++; return true; } return false; }
        void expect(char c) {
            if (!optional(c)) throw new IllegalArgumentException("expected " + c + " at " + i);
        }
        List<String> stringArray() {
            List<String> r = new ArrayList<>();
            expect('[');
            if (optional(']')) return r;
            do { r.add(string()); } while (optional(','));
            expect(']');
            return r;
        }
        String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            for (;;) {
                char c = s.charAt(i++);
                if (c == '"') return sb.toString();
                if (c != '\\') { sb.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case '"': case '\\': case '/': sb.append(e); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'n': sb.append('\n'); break;
                    case 'r': sb.append('\r'); break;
                    case 't': sb.append('\t'); break;
                    case 'u': sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: throw new IllegalArgumentException("bad escape at " + i);
                }
            }
        }
    }
}
