import Foundation
import Hummingbird

struct ModelObject: Encodable {
    var id: String
    var object = "model"
    var created: Int
    var owned_by = "swift-glm"
    var max_sequence_length: Int
    var vocab_size: Int
}

struct ModelList: Encodable {
    var object = "list"
    var data: [ModelObject]
}

struct Health: Encodable {
    var status = "ok"
    var model: String
    var api_key_required: Bool
}

extension GLMServer {
    var modelObject: ModelObject {
        ModelObject(id: model.id, created: model.created, max_sequence_length: model.model.config.maxSequenceLength,
                    vocab_size: model.model.config.vocabSize)
    }

    /// `GET /` (the page), `/health`, `/metrics`, `/v1/models`, `/v1/models/{id}`.
    func addInfoRoutes(_ router: Router<ServeContext>) {
        router.get("/") { _, _ in Reply.text(PlaygroundPage.html, contentType: "text/html; charset=utf-8") }
        // The server binds only after the model has loaded, so answering at all means ready.
        router.get("/health") { [self] _, _ in try Reply.json(Health(model: model.id, api_key_required: options.apiKey != nil)) }
        router.get("/metrics") { [self] _, _ in
            let queued = loop.queued
            return Reply.text(metrics.render(model: model.id, queued: queued, active: max(0, loop.pending - queued), rows: loop.engine.rows),
                              contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/v1/models") { [self] _, _ in try Reply.json(ModelList(data: [modelObject])) }
        router.get("/v1/models/{id}") { [self] _, context in
            let id = context.parameters.get("id") ?? ""
            guard id == model.id else {
                throw APIError(status: 404, "the model '\(id)' does not exist on this server; it serves '\(model.id)'", param: "model", code: "model_not_found")
            }
            return try Reply.json(modelObject)
        }
    }
}
