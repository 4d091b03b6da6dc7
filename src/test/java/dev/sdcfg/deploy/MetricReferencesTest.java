package dev.sdcfg.deploy;

import static dev.sdcfg.deploy.DeployFiles.root;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import dev.sdcfg.jobs.MetricNames;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every Prometheus series that deploy/ (dashboard, KEDA query, ...), the Dockerfiles and the README's Deploy
 * section name is one that the application exports: a {@code MetricNames.PROM_*} name, with the suffixes
 * Micrometer adds to a timer (_count, _sum, _max, and _bucket for the timers MetricNames documents as
 * histograms). Also checks the dashboard's structure and the PromQL idioms used.
 */
class MetricReferencesTest {

    static final Pattern SERIES = Pattern.compile("(?<![A-Za-z0-9_])sd_[a-z0-9_]+");

    /** The PROM_* constants of MetricNames. */
    static Set<String> promNames() {
        Set<String> names = new TreeSet<>();
        for (Field f : MetricNames.class.getFields()) {
            if (f.getName().startsWith("PROM_") && Modifier.isStatic(f.getModifiers())) {
                try {
                    names.add((String) f.get(null));
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
        assertFalse(names.isEmpty(), "MetricNames has PROM_* constants");
        return names;
    }

    /** Names that MetricNames' Javadoc documents as histograms (so they export _bucket series). */
    static Set<String> histograms() {
        String src = DeployFiles.read(root().resolve("src/main/java/dev/sdcfg/jobs/MetricNames.java"));
        Set<String> out = new TreeSet<>();
        Matcher doc = Pattern.compile("/\\*\\*(.*?)\\*/", Pattern.DOTALL).matcher(src);
        while (doc.find()) {
            String text = doc.group(1).replaceAll("\\s*\\*\\s*", " ").strip();
            if (text.startsWith("Histogram")) {
                Matcher m = SERIES.matcher(text);
                while (m.find()) {
                    out.add(m.group().replaceAll("_+$", ""));
                }
            }
        }
        assertTrue(promNames().containsAll(out), "histograms named in MetricNames' Javadoc are PROM_* names: " + out);
        return out;
    }

    /** Every series name a Prometheus query may use. */
    static Set<String> allowedSeries() {
        Set<String> hist = histograms();
        Set<String> out = new TreeSet<>();
        for (String n : promNames()) {
            if (n.endsWith("_seconds")) { // a Micrometer timer: no bare series
                out.add(n + "_count");
                out.add(n + "_sum");
                out.add(n + "_max");
                if (hist.contains(n)) {
                    out.add(n + "_bucket");
                }
            } else {
                out.add(n); // gauges, and counters (already _total)
            }
        }
        return out;
    }

    /** deploy/ text files, the Dockerfiles and README.md's "Deploy" section, with the series they mention. */
    static List<Reference> references() {
        List<Reference> refs = new ArrayList<>();
        List<Path> files = new ArrayList<>(DeployFiles.deployFiles(".yaml", ".yml", ".json", ".sh", ".mjs", ".md"));
        files.add(root().resolve("Dockerfile"));
        files.add(root().resolve("Dockerfile.cuda"));
        for (Path f : files) {
            collect(root().relativize(f).toString(), DeployFiles.read(f), refs);
        }
        String readme = DeployFiles.read(root().resolve("README.md"));
        int deploy = readme.indexOf("\n## Deploy");
        if (deploy >= 0) {
            int next = readme.indexOf("\n## ", deploy + 1);
            collect("README.md#Deploy", readme.substring(deploy, next < 0 ? readme.length() : next), refs);
        }
        return refs;
    }

    record Reference(String file, String series) {
    }

    private static void collect(String file, String text, List<Reference> refs) {
        Matcher m = SERIES.matcher(text);
        while (m.find()) {
            refs.add(new Reference(file, m.group()));
        }
    }

    @Test
    void everyReferencedSeriesIsExported() {
        Set<String> allowed = allowedSeries();
        List<Reference> refs = references();
        assertTrue(refs.size() >= 10, "deploy/ refers to the service's metrics: " + refs);
        List<String> bad = refs.stream().filter(r -> !allowed.contains(r.series()))
                .map(r -> r.file() + ": " + r.series()).distinct().toList();
        assertTrue(bad.isEmpty(), "series that the application does not export: " + bad + "; allowed: " + allowed);
    }

    @Test
    void theCheckRejectsWrongNames() {
        // The rules above are not vacuous: misspellings, bare timer names and made-up suffixes are refused.
        Set<String> allowed = allowedSeries();
        for (String wrong : List.of("sd_queue_length", "sd_denoise_step_seconds", "sd_queue_depth_bucket",
                "sd_jobs_total_count", "sd_unet_forward_seconds_total", "sd_text_encode_seconds_bucket")) {
            assertFalse(allowed.contains(wrong), wrong);
        }
        assertTrue(allowed.containsAll(List.of(MetricNames.PROM_QUEUE_DEPTH, MetricNames.PROM_JOBS_RUNNING,
                MetricNames.PROM_JOBS, MetricNames.PROM_DENOISE_STEP + "_bucket",
                MetricNames.PROM_DENOISE_STEP + "_count", MetricNames.PROM_QUEUE_WAIT + "_bucket")));
    }

    /** All PromQL expressions: dashboard targets and variables, and the KEDA trigger. */
    static List<String> queries() {
        List<String> q = new ArrayList<>();
        JsonNode dash = dashboard();
        for (JsonNode p : dash.path("panels")) {
            for (JsonNode t : p.path("targets")) {
                q.add(t.path("expr").asText());
            }
        }
        for (JsonNode v : dash.path("templating").path("list")) {
            if (v.path("type").asText().equals("query")) {
                q.add(v.path("query").isObject() ? v.path("query").path("query").asText() : v.path("query").asText());
            }
        }
        q.add(DeployFiles.resource("ScaledObject").path("spec").path("triggers").get(0).path("metadata")
                .path("query").asText());
        return q;
    }

    static JsonNode dashboard() {
        return DeployFiles.json(DeployFiles.deployDir().resolve("grafana/sd-guidance-dashboard.json"));
    }

    @Test
    void promqlUsesRatesOnCountersAndQuantilesOnBuckets() {
        Pattern rate = Pattern.compile("\\b(rate|irate|increase)\\(\\s*([a-zA-Z_:][a-zA-Z0-9_:]*)");
        for (String q : queries()) {
            assertFalse(q.isBlank(), "empty query");
            Matcher m = rate.matcher(q);
            while (m.find()) {
                String series = m.group(2);
                assertTrue(series.matches(".*_(total|count|sum|bucket)"),
                        m.group(1) + "() over a non-counter " + series + " in " + q);
            }
            if (q.contains("histogram_quantile")) {
                assertTrue(q.contains("_bucket") && q.matches("(?s).*\\bby\\s*\\([^)]*\\ble\\b.*"),
                        "histogram_quantile needs rate(..._bucket) summed by le: " + q);
            }
        }
    }

    @Test
    void dashboardPanelsAreWellFormedAndCoverTheService() {
        JsonNode dash = dashboard();
        assertFalse(dash.path("uid").asText().isBlank(), "uid");
        assertFalse(dash.path("title").asText().isBlank(), "title");
        Set<String> variables = new HashSet<>();
        for (JsonNode v : dash.path("templating").path("list")) {
            variables.add(v.path("name").asText());
        }
        JsonNode panels = dash.path("panels");
        assertTrue(panels.size() >= 6, "panels");
        Set<Integer> ids = new HashSet<>();
        Pattern var = Pattern.compile("\\$\\{?([A-Za-z_][A-Za-z0-9_]*)");
        List<String> panelQueries = new ArrayList<>();
        for (JsonNode p : panels) {
            String title = p.path("title").asText();
            assertFalse(title.isBlank(), "panel title");
            assertTrue(ids.add(p.path("id").asInt()), "duplicate panel id " + p.path("id"));
            assertTrue(p.path("gridPos").has("w") && p.path("gridPos").has("h"), title + ": gridPos");
            assertTrue(p.path("targets").size() > 0, title + ": no targets");
            StringBuilder all = new StringBuilder();
            for (JsonNode t : p.path("targets")) {
                String expr = t.path("expr").asText();
                assertTrue(SERIES.matcher(expr).find(), title + ": target without an sd_* series: " + expr);
                all.append(expr).append('\n');
            }
            String datasource = p.path("datasource").path("uid").asText() + " "
                    + p.path("targets").get(0).path("datasource").path("uid").asText();
            Matcher m = var.matcher(all + datasource);
            while (m.find()) {
                String name = m.group(1);
                assertTrue(name.startsWith("__") || variables.contains(name),
                        title + ": undefined dashboard variable $" + name);
            }
            panelQueries.add(all.toString());
        }
        requirePanel(panelQueries, "step latency quantiles",
                q -> q.contains("histogram_quantile") && q.contains("sd_denoise_step_seconds_bucket"));
        requirePanel(panelQueries, "steps/s", q -> q.matches("(?s).*rate\\(sd_denoise_step_seconds_count.*"));
        requirePanel(panelQueries, "queue depth", q -> q.contains("sd_queue_depth"));
        requirePanel(panelQueries, "job outcomes by status",
                q -> q.contains("sd_jobs_total") && q.matches("(?s).*by\\s*\\(\\s*status\\s*\\).*"));
        requirePanel(panelQueries, "queue wait quantiles",
                q -> q.contains("histogram_quantile") && q.contains("sd_queue_wait_seconds_bucket"));
        for (String timer : List.of(MetricNames.PROM_UNET_FORWARD, MetricNames.PROM_VAE_DECODE,
                MetricNames.PROM_TEXT_ENCODE)) {
            requirePanel(panelQueries, timer, q -> q.contains(timer + "_"));
        }
    }

    private static void requirePanel(List<String> panelQueries, String what, Predicate<String> test) {
        assertTrue(panelQueries.stream().anyMatch(test), "no dashboard panel for " + what);
    }

    @Test
    void histogramsAreReadFromMetricNamesJavadoc() {
        // Guards the Javadoc parsing above: the timers documented as histograms are found, the others are not.
        Set<String> hist = histograms();
        assertTrue(hist.containsAll(List.of(MetricNames.PROM_DENOISE_STEP, MetricNames.PROM_JOB_DURATION,
                MetricNames.PROM_QUEUE_WAIT)), "histograms: " + hist);
        assertFalse(hist.contains(MetricNames.PROM_QUEUE_DEPTH), "a gauge is no histogram");
    }
}
