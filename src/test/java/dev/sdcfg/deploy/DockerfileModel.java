package dev.sdcfg.deploy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A small Dockerfile reader for the checks in this package: instructions (continuation lines joined, comments
 * dropped), build stages, ENV pairs, global ARG defaults. Not a full implementation of the Dockerfile grammar:
 * enough for the files in this repository, and it fails loudly on what it does not understand.
 */
final class DockerfileModel {

    record Instruction(String keyword, String args, int line) {
    }

    record Stage(String from, String name, List<Instruction> instructions) {
        List<Instruction> all(String keyword) {
            return instructions.stream().filter(i -> i.keyword().equals(keyword)).toList();
        }

        /** ENV name -> value of this stage, in order. */
        Map<String, String> env() {
            Map<String, String> env = new LinkedHashMap<>();
            for (Instruction i : all("ENV")) {
                env.putAll(parseEnv(i));
            }
            return env;
        }

        /** ARG name -> default (null when none) declared inside this stage. */
        Map<String, String> args() {
            Map<String, String> out = new LinkedHashMap<>();
            for (Instruction i : all("ARG")) {
                String a = i.args().trim();
                int eq = a.indexOf('=');
                out.put(eq < 0 ? a : a.substring(0, eq), eq < 0 ? null : unquote(a.substring(eq + 1)));
            }
            return out;
        }

        Instruction last(String keyword) {
            List<Instruction> l = all(keyword);
            if (l.isEmpty()) {
                throw new AssertionError("stage " + name + " has no " + keyword);
            }
            return l.get(l.size() - 1);
        }
    }

    final Path file;
    final List<Instruction> instructions = new ArrayList<>();
    /** ARGs before the first FROM (usable in FROM lines). */
    final Map<String, String> globalArgs = new LinkedHashMap<>();
    final List<Stage> stages = new ArrayList<>();

    DockerfileModel(Path file) {
        this.file = file;
        String[] lines = DeployFiles.read(file).split("\n", -1);
        StringBuilder cur = null;
        int start = 0;
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n];
            String trimmed = line.strip();
            if (trimmed.startsWith("#") || (cur == null && trimmed.isEmpty())) {
                continue; // comments (also inside continuations) and blank lines
            }
            if (cur == null) {
                cur = new StringBuilder();
                start = n + 1;
            }
            boolean continues = line.stripTrailing().endsWith("\\");
            String body = continues ? line.stripTrailing() : line;
            if (continues) {
                body = body.substring(0, body.length() - 1);
            }
            cur.append(body).append(continues ? "" : "\n");
            if (!continues) {
                String text = cur.toString().strip();
                int sp = text.indexOf(' ');
                if (sp < 0) {
                    throw new AssertionError(file.getFileName() + ":" + start + ": instruction without arguments: "
                            + text);
                }
                instructions.add(new Instruction(text.substring(0, sp).toUpperCase(Locale.ROOT),
                        text.substring(sp + 1).strip(), start));
                cur = null;
            }
        }
        if (cur != null) {
            throw new AssertionError(file.getFileName() + ": ends inside a continued line (started at " + start + ")");
        }
        Stage stage = null;
        for (Instruction i : instructions) {
            if (i.keyword().equals("FROM")) {
                String[] parts = i.args().split("\\s+");
                String name = parts.length >= 3 && parts[1].equalsIgnoreCase("AS") ? parts[2] : null;
                stage = new Stage(expand(parts[0]), name, new ArrayList<>());
                stages.add(stage);
            } else if (stage == null) {
                if (!i.keyword().equals("ARG")) {
                    throw new AssertionError(file.getFileName() + ":" + i.line() + ": " + i.keyword()
                            + " before the first FROM");
                }
                String a = i.args().trim();
                int eq = a.indexOf('=');
                globalArgs.put(eq < 0 ? a : a.substring(0, eq), eq < 0 ? null : unquote(a.substring(eq + 1)));
            } else {
                stage.instructions().add(i);
            }
        }
    }

    Stage stage(String name) {
        return stages.stream().filter(s -> name.equals(s.name())).findFirst()
                .orElseThrow(() -> new AssertionError(file.getFileName() + " has no stage " + name));
    }

    Stage finalStage() {
        return stages.get(stages.size() - 1);
    }

    /** ${NAME} / $NAME of global ARGs replaced by their defaults (for FROM lines). */
    String expand(String s) {
        String out = s;
        for (Map.Entry<String, String> e : globalArgs.entrySet()) {
            if (e.getValue() != null) {
                out = out.replace("${" + e.getKey() + "}", e.getValue()).replace("$" + e.getKey(), e.getValue());
            }
        }
        return out;
    }

    /** Parses {@code ENV a=1 b="two words"} (and the legacy {@code ENV a value}). */
    static Map<String, String> parseEnv(Instruction i) {
        Map<String, String> env = new LinkedHashMap<>();
        String s = i.args().strip();
        int eq = s.indexOf('=');
        int sp = s.indexOf(' ');
        if (eq < 0 || (sp >= 0 && sp < eq)) {
            env.put(s.substring(0, sp), s.substring(sp + 1).strip());
            return env;
        }
        int p = 0;
        while (p < s.length()) {
            while (p < s.length() && Character.isWhitespace(s.charAt(p))) {
                p++;
            }
            if (p >= s.length()) {
                break;
            }
            int e = s.indexOf('=', p);
            if (e < 0) {
                throw new AssertionError("line " + i.line() + ": cannot parse ENV near: " + s.substring(p));
            }
            String name = s.substring(p, e);
            p = e + 1;
            StringBuilder v = new StringBuilder();
            char quote = 0;
            while (p < s.length()) {
                char c = s.charAt(p);
                if (quote != 0) {
                    if (c == quote) {
                        quote = 0;
                    } else if (c == '\\' && quote == '"' && p + 1 < s.length()) {
                        v.append(s.charAt(++p));
                    } else {
                        v.append(c);
                    }
                } else if (c == '"' || c == '\'') {
                    quote = c;
                } else if (Character.isWhitespace(c)) {
                    break;
                } else {
                    v.append(c);
                }
                p++;
            }
            if (quote != 0) {
                throw new AssertionError("line " + i.line() + ": unterminated quote in ENV " + name);
            }
            env.put(name, v.toString());
        }
        return env;
    }

    private static String unquote(String v) {
        String t = v.strip();
        if (t.length() >= 2 && (t.startsWith("\"") && t.endsWith("\"") || t.startsWith("'") && t.endsWith("'"))) {
            return t.substring(1, t.length() - 1);
        }
        return t;
    }
}
