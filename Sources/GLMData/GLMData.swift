/// The `GLMData` layer of swift-glm (see docs/architecture.md).
public enum GLMDataModule {}
