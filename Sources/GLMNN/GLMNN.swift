/// The `GLMNN` layer of swift-glm (see docs/architecture.md).
public enum GLMNNModule {}
