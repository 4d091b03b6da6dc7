package dev.sdcfg.api;

import jakarta.ws.rs.core.Application;
import org.eclipse.microprofile.openapi.annotations.OpenAPIDefinition;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeType;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.security.SecurityScheme;
import org.eclipse.microprofile.openapi.annotations.info.Info;
import org.eclipse.microprofile.openapi.annotations.info.License;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** The OpenAPI document's header (served at /q/openapi, browsable at /q/swagger-ui). */
@SecurityScheme(securitySchemeName = "apiKey", type = SecuritySchemeType.HTTP, scheme = "bearer",
        description = "Only when the service is started with API keys (sd.auth.api-keys / SD_API_KEYS): every /v1 "
                + "request then needs 'Authorization: Bearer <key>' (401 otherwise). Unset: the API is open.")
@OpenAPIDefinition(
        security = @SecurityRequirement(name = "apiKey"),
        info = @Info(title = "sd-guidance-service", version = "0.1.0",
                description = "Stable Diffusion 1.x/2.x with controllable classifier-free guidance, computed natively "
                        + "in Java (DJL/PyTorch). One worker thread owns the model and takes jobs from a bounded queue. "
                        + "Every error is RFC 9457 problem+json (type, title, status, detail, errors[{field, message}]).",
                license = @License(name = "Apache-2.0")),
        tags = {@Tag(name = "images", description = "Synchronous generation (OpenAI-compatible)"),
                @Tag(name = "jobs", description = "Asynchronous jobs"),
                @Tag(name = "experiments", description = "Guidance comparisons"),
                @Tag(name = "catalog", description = "Guidance options, samplers, model")})
public class OpenApiInfo extends Application {
}
