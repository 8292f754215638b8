// Dumps the java.lang.Character data that java.util.regex consults (general categories, scripts,
// blocks, binary properties, simple case mappings) as one compact text payload, so that
// src/auth/jregex/unicode-data.ts reproduces the JDK's Unicode version exactly (Node's ICU has its
// own, usually newer, Unicode version). Run as:
//   java --add-opens java.base/java.lang=ALL-UNNAMED UnicodeTables.java
// The reflective reads of Character.UnicodeBlock.map and Character.UnicodeScript.aliases list every
// name that UnicodeBlock.forName / UnicodeScript.forName accept (private maps in java.lang.Character).
//
// Payload lines ("<tag> <data>"); numbers are base 36; "runs" are comma-separated
// length,value pairs covering U+0000..U+10FFFF in order:
//   gc   runs of Character.getType
//   scn  script names in ordinal order (comma-separated)
//   sca  script aliases: ALIAS:ordinal (comma-separated)
//   scr  runs of UnicodeScript.of ordinal
//   blk  block keys: for each block (in ordinal order of first appearance) its forName keys joined by '|'
//   blr  runs of block index + 1 (0 = no block)
//   bp.<Name> runs of 0/1 for a boolean Character method
//   uc / lc  cp:(mapped-cp) pairs where Character.toUpperCase / toLowerCase(int) differ from cp
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.function.IntUnaryOperator;

public class UnicodeTables {
    static final int MAX = 0x10FFFF;

    public static void main(String[] args) throws Exception {
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
                java.lang.reflect.Method m = Character.class.getMethod("is" + emoji, int.class);
                props.put(emoji, cp -> {
                    try { return (Boolean) m.invoke(null, cp); } catch (Exception e) { throw new RuntimeException(e); }
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
        System.out.print(out);
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
}
