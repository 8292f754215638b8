// Differential-test oracle for src/auth/jregex.ts (run as `java RegexOracle.java`, no javac step).
//
// Protocol: one JSON object per input line, one JSON object per output line, in order.
//   in : {"pattern":"...","subjects":["...", ...]}        ("subject":"..." adds one subject)
//   in : {"op":"set","pattern":"..."}  -> {"valid":true,"ranges":[lo,hi,...]}: every code point c
//        (U+0000..U+10FFFF, lone surrogates included) for which matches() accepts the string of c
//   in : {"op":"tables"}  -> {"tables":"<payload>"}: the java.lang.Character data java.util.regex
//        consults, embedded by src/auth/jregex/unicode-data.ts (format below, see tables()).
//        Needs `--add-opens java.base/java.lang=ALL-UNNAMED` (reads the private maps behind
//        Character.UnicodeBlock.forName and Character.UnicodeScript.forName).
//   out: {"valid":true,"matches":[true,false,...]}
//        {"valid":false,"error":"<PatternSyntaxException.getDescription()>","index":<getIndex()>}
//        {"valid":true,"matches":[...,null,...],"failures":["<Throwable class>",...]}  (a subject whose
//        matches() threw, e.g. StackOverflowError, yields null)
// The first output line is {"java_version":"<java.runtime.version>","unicode":"<probe>"}.
// Strings are JSON with every non-ASCII UTF-16 code unit escaped as \\uXXXX in both directions, so
// lone surrogates survive the round trip; the tiny JSON reader/writer is hand-written (no libraries).
import java.io.BufferedReader;
import java.lang.reflect.Field;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.function.IntUnaryOperator;
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
            String op = "match";
            List<String> subjects = new ArrayList<>();
            p.expect('{');
            if (!p.peekIs('}')) {
                do {
                    String key = p.string();
                    p.expect(':');
                    if (key.equals("pattern")) pattern = p.string();
                    else if (key.equals("op")) op = p.string();
                    else if (key.equals("subjects")) subjects = p.stringArray();
                    else if (key.equals("subject")) subjects.add(p.string());
                    else throw new IllegalArgumentException("unknown key " + key);
                } while (p.optional(','));
            }
            p.expect('}');
            String answer = switch (op) {
                case "set" -> set(pattern);
                case "tables" -> "{\"tables\":" + quote(tables()) + "}";
                default -> run(pattern, subjects);
            };
            out.println(answer);
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

    /*
     * tables(): the Unicode data of this JDK as one text payload, so that the translator reproduces
     * the JDK's Unicode version exactly (Node's ICU has its own, usually newer, one).
     * Lines "<tag> <data>"; numbers are base 36; "runs" are comma-separated length,value pairs
     * covering U+0000..U+10FFFF in order:
     *   java <major>   the section header
     *   gc   runs of Character.getType
     *   scn  script names in ordinal order (comma-separated)
     *   sca  script aliases: ALIAS:ordinal (comma-separated)
     *   scr  runs of UnicodeScript.of ordinal
     *   blk  block keys: for each block (in order of first appearance) its forName keys joined by '|'
     *   blr  runs of block index + 1 (0 = no block)
     *   bp.<Name> runs of 0/1 for a boolean Character method
     *   uc / lc  cp:(mapped-cp) pairs where Character.toUpperCase / toLowerCase(int) differ from cp
     */
    static final int MAX = 0x10FFFF;

    static String tables() throws Exception {
        StringBuilder out = new StringBuilder();
        out.append("java ").append(System.getProperty("java.specification.version")).append('\n');
        out.append("gc ").append(runs(Character::getType)).append('\n');
        Character.UnicodeScript[] scripts = Character.UnicodeScript.values();
        List<String> names = new ArrayList<>();
        for (Character.UnicodeScript s : scripts) names.add(s.name());
        out.append("scn ").append(String.join(",", names)).append('\n');
        Field af = Character.UnicodeScript.class.getDeclaredField("aliases");
        af.setAccessible(true);
        @SuppressWarnings("unchecked")
        Map<String, Character.UnicodeScript> aliases = new java.util.TreeMap<>((Map<String, Character.UnicodeScript>) af.get(null));
        List<String> al = new ArrayList<>();
        for (Map.Entry<String, Character.UnicodeScript> e : aliases.entrySet())
            al.add(e.getKey() + ":" + Integer.toString(e.getValue().ordinal(), 36));
        out.append("sca ").append(String.join(",", al)).append('\n');
        out.append("scr ").append(runs(cp -> Character.UnicodeScript.of(cp).ordinal())).append('\n');

        Field mf = Character.UnicodeBlock.class.getDeclaredField("map");
        mf.setAccessible(true);
        @SuppressWarnings("unchecked")
        Map<String, Character.UnicodeBlock> map = (Map<String, Character.UnicodeBlock>) mf.get(null);
        LinkedHashMap<Character.UnicodeBlock, Integer> order = new LinkedHashMap<>();
        for (int cp = 0; cp <= MAX; cp++) {
            Character.UnicodeBlock b = Character.UnicodeBlock.of(cp);
            if (b != null && !order.containsKey(b)) order.put(b, order.size());
        }
        for (Character.UnicodeBlock b : map.values())
            if (!order.containsKey(b)) order.put(b, order.size());
        List<List<String>> keys = new ArrayList<>();
        for (int i = 0; i < order.size(); i++) keys.add(new ArrayList<>());
        for (Map.Entry<String, Character.UnicodeBlock> e : new java.util.TreeMap<>(map).entrySet())
            keys.get(order.get(e.getValue())).add(e.getKey());
        List<String> bl = new ArrayList<>();
        for (List<String> k : keys) bl.add(String.join("|", k));
        out.append("blk ").append(String.join(",", bl)).append('\n');
        out.append("blr ").append(runs(cp -> {
            Character.UnicodeBlock b = Character.UnicodeBlock.of(cp);
            return b == null ? 0 : order.get(b) + 1;
        })).append('\n');

        Map<String, IntPredicate> props = new LinkedHashMap<>();
        props.put("Alphabetic", Character::isAlphabetic);
        props.put("Ideographic", Character::isIdeographic);
        props.put("LowerCase", Character::isLowerCase);
        props.put("UpperCase", Character::isUpperCase);
        props.put("TitleCase", Character::isTitleCase);
        props.put("Mirrored", Character::isMirrored);
        props.put("JavaIdentifierStart", Character::isJavaIdentifierStart);
        props.put("JavaIdentifierPart", Character::isJavaIdentifierPart);
        props.put("UnicodeIdentifierStart", Character::isUnicodeIdentifierStart);
        props.put("UnicodeIdentifierPart", Character::isUnicodeIdentifierPart);
        props.put("IdentifierIgnorable", Character::isIdentifierIgnorable);
        props.put("Whitespace", Character::isWhitespace);
        // isLetter, isDigit, isLetterOrDigit, isDefined, isSpaceChar and isISOControl are pure
        // functions of getType / fixed ranges (java.lang.Character javadoc) and are derived in TS.
        for (String emoji : new String[] {"Emoji", "EmojiPresentation", "EmojiModifier",
                "EmojiModifierBase", "EmojiComponent", "ExtendedPictographic"}) {
            try {
                java.lang.invoke.MethodHandle m = java.lang.invoke.MethodHandles.publicLookup().findStatic(
                    Character.class, "is" + emoji, java.lang.invoke.MethodType.methodType(boolean.class, int.class));
                props.put(emoji, cp -> {
                    try { return (boolean) m.invokeExact(cp); } catch (Throwable e) { throw new RuntimeException(e); }
                });
            } catch (NoSuchMethodException absent) {
                // JDK 17 has no emoji properties: \p{IsEmoji} is a syntax error there.
            }
        }
        for (Map.Entry<String, IntPredicate> e : props.entrySet()) {
            IntPredicate p = e.getValue();
            out.append("bp.").append(e.getKey()).append(' ').append(runs(cp -> p.test(cp) ? 1 : 0)).append('\n');
        }
        out.append("uc ").append(mapping(Character::toUpperCase)).append('\n');
        out.append("lc ").append(mapping(Character::toLowerCase)).append('\n');
        return out.toString();
    }

    static String runs(IntUnaryOperator f) {
        StringBuilder sb = new StringBuilder();
        int start = 0;
        int value = f.applyAsInt(0);
        for (int cp = 1; cp <= MAX + 1; cp++) {
            int v = cp <= MAX ? f.applyAsInt(cp) : Integer.MIN_VALUE;
            if (v != value) {
                if (sb.length() > 0) sb.append(',');
                sb.append(Integer.toString(cp - start, 36)).append(',').append(Integer.toString(value, 36));
                start = cp;
                value = v;
            }
        }
        return sb.toString();
    }

    static String mapping(IntUnaryOperator f) {
        StringBuilder sb = new StringBuilder();
        for (int cp = 0; cp <= MAX; cp++) {
            int m = f.applyAsInt(cp);
            if (m != cp) {
                if (sb.length() > 0) sb.append(',');
                sb.append(Integer.toString(cp, 36)).append(':').append(Integer.toString(m, 36));
            }
        }
        return sb.toString();
    }

    /** The set of single code points a pattern matches, as inclusive ranges. */
    static String set(String pattern) {
        Pattern compiled;
        try {
            compiled = Pattern.compile(pattern);
        } catch (PatternSyntaxException e) {
            return "{\"valid\":false,\"error\":" + quote(e.getDescription()) + ",\"index\":" + e.getIndex() + "}";
        }
        OneCodePoint cs = new OneCodePoint();
        Matcher m = compiled.matcher(cs);
        StringBuilder sb = new StringBuilder("{\"valid\":true,\"ranges\":[");
        int start = -1;
        boolean first = true;
        for (int cp = 0; cp <= Character.MAX_CODE_POINT + 1; cp++) {
            boolean in = false;
            if (cp <= Character.MAX_CODE_POINT) {
                cs.set(cp);
                m.reset(cs);
                in = m.matches();
            }
            if (in && start < 0) start = cp;
            if (!in && start >= 0) {
                if (!first) sb.append(',');
                sb.append(start).append(',').append(cp - 1);
                first = false;
                start = -1;
            }
        }
        return sb.append("]}").toString();
    }

    /** A reusable CharSequence holding one code point (one or two chars). */
    static final class OneCodePoint implements CharSequence {
        private final char[] chars = new char[2];
        private int length;
        void set(int cp) { length = Character.toChars(cp, chars, 0); }
        public int length() { return length; }
        public char charAt(int i) { if (i >= length) throw new IndexOutOfBoundsException(); return chars[i]; }
        public CharSequence subSequence(int a, int b) { return new String(chars, a, b - a); }
        public String toString() { return new String(chars, 0, length); }
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
