import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A product and its stock counters. The table's CHECKs keep stock + reserved + sold = received, all >= 0. */
@Entity({ name: 'products' })
export class ProductEntity {
  @PrimaryColumn({ type: 'text' })
  sku!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'price_cents', type: 'integer' })
  priceCents!: number;

  /** Available to reserve or sell. */
  @Column({ type: 'bigint' })
  stock!: number;

  /** Held by open saga reservations. */
  @Column({ type: 'bigint' })
  reserved!: number;

  @Column({ type: 'bigint' })
  sold!: number;

  /** Everything ever received, the initial stock included; at most RECEIVED_MAX (exact as a number). */
  @Column({ type: 'bigint' })
  received!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
