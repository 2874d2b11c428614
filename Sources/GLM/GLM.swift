/// The `GLM` layer of swift-glm (see docs/architecture.md).
public enum GLMModule {}
