package dev.sdcfg.api;

import jakarta.ws.rs.HttpMethod;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;

import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The API's routes as read from the JAX-RS annotations of its resource classes: for each path template the HTTP
 * methods it serves and the media types each produces. Used for the {@code Allow} header of 405 and OPTIONS answers
 * (RFC 9110 §10.2.1, §15.5.6), to answer 405 rather than 415 to a POST on a path that takes no POST, and to say
 * what a path produces in 406 answers. (Quarkus REST answers OPTIONS with every method of the resource class and
 * sends 405 without {@code Allow}, hence this table.)
 */
final class Routes {

    /** Every JAX-RS resource of the API (HttpMethodsTest checks the table against the OpenAPI document). */
    static final List<Class<?>> RESOURCES = List.of(ImagesResource.class, JobsResource.class,
            ExperimentsResource.class, CatalogResource.class, EditsResource.class, PngInfoResource.class);

    private static final List<String> ORDER = List.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");

    static final Routes API = new Routes(RESOURCES);

    /** One path template, e.g. {@code /v1/jobs/{id}}, with the media types each method produces. */
    record Route(String template, Pattern pattern, int literalChars, Map<String, List<String>> produces) {

        /** The methods of this path in a fixed order, with HEAD where there is GET and OPTIONS always. */
        List<String> allowed() {
            TreeSet<String> s = new TreeSet<>(Comparator.comparingInt((String m) -> ORDER.indexOf(m) < 0
                    ? ORDER.size() : ORDER.indexOf(m)).thenComparing(m -> m));
            s.addAll(produces.keySet());
            if (s.contains("GET")) {
                s.add("HEAD");
            }
            s.add("OPTIONS");
            return List.copyOf(s);
        }

        /** The value of an {@code Allow} header. */
        String allowHeader() {
            return String.join(", ", allowed());
        }

        boolean allows(String method) {
            return allowed().contains(method.toUpperCase(Locale.ROOT));
        }

        /** Media types the method produces (GET's for HEAD); empty if the method is not served. */
        List<String> producesFor(String method) {
            String m = method.toUpperCase(Locale.ROOT);
            return produces.getOrDefault("HEAD".equals(m) ? "GET" : m, List.of());
        }
    }

    private final List<Route> routes;

    Routes(List<Class<?>> resources) {
        Map<String, Map<String, List<String>>> byTemplate = new LinkedHashMap<>();
        for (Class<?> c : resources) {
            Path classPath = c.getAnnotation(Path.class);
            if (classPath == null) {
                throw new IllegalArgumentException(c.getName() + " has no @Path");
            }
            Produces classProduces = c.getAnnotation(Produces.class);
            for (Method m : c.getDeclaredMethods()) {
                String verb = httpMethod(m);
                if (verb == null) {
                    continue;
                }
                Path methodPath = m.getAnnotation(Path.class);
                String template = join(classPath.value(), methodPath == null ? "" : methodPath.value());
                Produces p = m.getAnnotation(Produces.class) != null ? m.getAnnotation(Produces.class) : classProduces;
                List<String> types = p == null ? List.of("*/*") : List.of(p.value());
                byTemplate.computeIfAbsent(template, t -> new LinkedHashMap<>()).put(verb, types);
            }
        }
        List<Route> list = new ArrayList<>();
        for (Map.Entry<String, Map<String, List<String>>> e : byTemplate.entrySet()) {
            list.add(new Route(e.getKey(), compile(e.getKey()), literalChars(e.getKey()), Map.copyOf(e.getValue())));
        }
        // JAX-RS prefers the template with the most literal characters when several match
        list.sort(Comparator.comparingInt(Route::literalChars).reversed());
        this.routes = List.copyOf(list);
    }

    List<Route> all() {
        return routes;
    }

    /** The route serving {@code path} (as the request has it, e.g. {@code /v1/jobs/abc/}); empty if none. */
    Optional<Route> match(String path) {
        String p = normalize(path);
        for (Route r : routes) {
            if (r.pattern().matcher(p).matches()) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    static String normalize(String path) {
        String p = path == null ? "/" : path.replaceAll("/{2,}", "/");
        if (!p.startsWith("/")) {
            p = "/" + p;
        }
        if (p.length() > 1 && p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p;
    }

    private static String httpMethod(Method m) {
        for (Annotation a : m.getAnnotations()) {
            HttpMethod hm = a.annotationType().getAnnotation(HttpMethod.class);
            if (hm != null) {
                return hm.value().toUpperCase(Locale.ROOT);
            }
        }
        return null;
    }

    private static String join(String a, String b) {
        String s = ("/" + a + "/" + b).replaceAll("/{2,}", "/");
        return s.length() > 1 && s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    /** {@code /v1/jobs/{id}} → {@code /v1/jobs/[^/]+}; {@code {name: regex}} keeps its regex. */
    static Pattern compile(String template) {
        StringBuilder re = new StringBuilder();
        int i = 0;
        while (i < template.length()) {
            int open = template.indexOf('{', i);
            if (open < 0) {
                re.append(Pattern.quote(template.substring(i)));
                break;
            }
            if (open > i) {
                re.append(Pattern.quote(template.substring(i, open)));
            }
            int depth = 0;
            int close = open;
            for (; close < template.length(); close++) {
                char ch = template.charAt(close);
                if (ch == '{') {
                    depth++;
                } else if (ch == '}' && --depth == 0) {
                    break;
                }
            }
            String param = template.substring(open + 1, close);
            int colon = param.indexOf(':');
            re.append(colon < 0 ? "[^/]+" : "(?:" + param.substring(colon + 1).trim() + ")");
            i = close + 1;
        }
        return Pattern.compile(re.toString());
    }

    private static int literalChars(String template) {
        return template.replaceAll("\\{[^}]*}", "").length();
    }
}
